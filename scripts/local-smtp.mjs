// A local SMTP server for trying the sending test with `npm start` (SPEC §8): plain SMTP on
// 127.0.0.1 (workerd verifies TLS certificates, so a local self-signed one could never pass),
// login with any account and the password below, messages saved as .eml files. With `relay`, it
// also plays Cloudflare's MX for the mail flow check (SPEC §13): what it receives for a service
// address is handed to `wrangler dev`'s email endpoint with the hop Cloudflare's MX adds, so a
// probe makes the whole round trip on one machine. With `oauth` (the stand-in of
// scripts/local-oauth.mjs, `npm start -- --oauth`), it also takes AUTH XOAUTH2 with the access
// tokens that stand-in issued, so Sign in with Microsoft 365 / Google can be tried here (SPEC §12).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import { localRelay } from './local-relay.mjs';

export const LOCAL_SMTP_PASSWORD = 'mailgate-local';
const MAILDIR = '.wrangler/local-smtp';

/**
 * @param {{ port: number, host?: string, log?: (line: string) => void, relay?: import('./local-relay.mjs').Relay, oauth?: { isValidAccessToken(token: string, user: string): boolean } }} options
 *   relay: the running Mailgate (`wrangler dev`) whose service addresses get what arrives for them;
 *   oauth: the OAuth stand-in whose access tokens AUTH XOAUTH2 accepts
 * @returns {Promise<{ port: number, close: () => Promise<void> }>}
 */
export async function startLocalSmtp({ port, host = '127.0.0.1', log = console.log, relay, oauth }) {
	mkdirSync(MAILDIR, { recursive: true });
	const relayed = relay ? localRelay(relay) : null;
	const server = new SMTPServer({
		logger: false,
		disableReverseLookup: true,
		allowInsecureAuth: true,
		authMethods: oauth ? ['PLAIN', 'LOGIN', 'XOAUTH2'] : ['PLAIN', 'LOGIN'],
		banner: 'Mailgate local test server',
		// Its certificate would be self-signed, which workerd refuses: offer plain SMTP only.
		hideSTARTTLS: true,
		onAuth(auth, _session, callback) {
			if (auth.method === 'XOAUTH2') {
				if (oauth?.isValidAccessToken(auth.accessToken ?? '', auth.username ?? '')) {
					log(`[local smtp] XOAUTH2 login as ${auth.username} accepted`);
					return callback(null, { user: auth.username });
				}
				log(`[local smtp] XOAUTH2 login as ${auth.username} refused: not a token the local OAuth stand-in issued to this account (or it was revoked)`);
				// As Gmail does: the error as a 334 challenge (JSON), then 535.
				return callback(null, { data: { status: '401', schemes: 'Bearer', scope: 'https://mail.google.com/' } });
			}
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
				const head = data.toString('latin1', 0, Math.min(data.length, 64 * 1024)).split(/\r?\n\r?\n/)[0]?.replace(/\r?\n[ \t]+/g, ' ') ?? '';
				const field = (/** @type {string} */ name) => new RegExp(`^${name}: *(.*)$`, 'im').exec(head)?.[1]?.trim() ?? '';
				log(`[local smtp] ${field('Subject') || '(no subject)'} — from ${field('From') || session.envelope.mailFrom || '?'} to ${to}; saved to ${file}`);
				if (!relayed) return callback();
				handOver(session, data).then(
					() => callback(),
					(/** @type {Error & { responseCode?: number }} */ error) => {
						log(`[local smtp] not delivered to the Worker: ${error.message}`);
						// An unreachable Worker is a temporary failure, as at a real MX.
						callback(error.responseCode ? error : Object.assign(error, { responseCode: 451 }));
					}
				);
			});
		}
	});
	/**
	 * Hands the message to the Worker once per service address among its recipients, the way
	 * Email Routing does, and answers with the Worker's refusal if it refuses (as Cloudflare's MX
	 * answers the sender during the SMTP dialogue).
	 * @param {import('smtp-server').SMTPServerSession} session
	 * @param {Buffer} data
	 */
	async function handOver(session, data) {
		if (!relayed) return;
		await relayed.handOver({
			from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
			recipients: session.envelope.rcptTo.map((r) => r.address),
			data,
			ip: (session.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, ''),
			helo: session.hostNameAppearsAs || 'localhost',
			onHanded: (address) => log(`[local smtp] handed to the Worker for ${address}, as Email Routing would`)
		});
	}

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
