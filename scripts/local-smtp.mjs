// A local SMTP server for trying the sending test with `npm start` (SPEC §8): plain SMTP on
// 127.0.0.1 (workerd verifies TLS certificates, so a local self-signed one could never pass),
// login with any account and the password below, messages saved as .eml files.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';

export const LOCAL_SMTP_PASSWORD = 'mailgate-local';
const MAILDIR = '.wrangler/local-smtp';

/**
 * @param {{ port: number, host?: string, log?: (line: string) => void }} options
 * @returns {Promise<{ port: number, close: () => Promise<void> }>}
 */
export async function startLocalSmtp({ port, host = '127.0.0.1', log = console.log }) {
	mkdirSync(MAILDIR, { recursive: true });
	const server = new SMTPServer({
		logger: false,
		disableReverseLookup: true,
		allowInsecureAuth: true,
		authMethods: ['PLAIN', 'LOGIN'],
		banner: 'Mailgate local test server',
		// Its certificate would be self-signed, which workerd refuses: offer plain SMTP only.
		hideSTARTTLS: true,
		onAuth(auth, _session, callback) {
			if (auth.password === LOCAL_SMTP_PASSWORD) return callback(null, { user: auth.username });
			callback(Object.assign(new Error('5.7.8 Authentication failed: the local test server password is mailgate-local'), { responseCode: 535 }));
		},
		onData(stream, session, callback) {
			/** @type {Buffer[]} */
			const chunks = [];
			stream.on('data', (/** @type {Buffer} */ chunk) => chunks.push(chunk));
			stream.on('end', () => {
				const file = join(MAILDIR, `${new Date().toISOString().replace(/[:.]/g, '-')}.eml`);
				const data = Buffer.concat(chunks);
				writeFileSync(file, data);
				const to = session.envelope.rcptTo.map((r) => r.address).join(', ');
				// What a newcomer wants to see when a reply leaves: who it is from (the mailbox name and
				// address), to whom, and its subject, as the message's own (unfolded) headers say.
				const head = data.toString('latin1', 0, Math.min(data.length, 64 * 1024)).split(/\r?\n\r?\n/)[0].replace(/\r?\n[ \t]+/g, ' ');
				const field = (/** @type {string} */ name) => new RegExp(`^${name}: *(.*)$`, 'im').exec(head)?.[1]?.trim() ?? '';
				log(`[local smtp] ${field('Subject') || '(no subject)'} — from ${field('From') || session.envelope.mailFrom || '?'} to ${to}; saved to ${file}`);
				callback();
			});
		}
	});
	server.on('error', (error) => log(`[local smtp] ${error.message}`));
	await new Promise((resolve, reject) => {
		server.server.once('error', reject);
		server.listen(port, host, () => resolve(undefined));
	});
	return {
		// The bound port (port 0 asks the system for a free one).
		port: /** @type {import('node:net').AddressInfo} */ (server.server.address()).port,
		close: () => new Promise((resolve) => server.close(() => resolve(undefined)))
	};
}
