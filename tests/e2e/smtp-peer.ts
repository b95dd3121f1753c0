/**
 * The SMTP server replies reach in the browser tests (started once by the global setup): a real
 * smtp-server on loopback, which the Worker under `wrangler dev` can reach because the harness
 * sets ALLOW_PRIVATE_SMTP_HOSTS. It takes PLAIN and LOGIN with one account, refuses any other
 * password the way Gmail does, and records every message it accepts; the tests read them over a
 * small HTTP endpoint (`receivedMail` in mail.ts). Given the OAuth stand-in, it also takes AUTH
 * XOAUTH2 with the access tokens that stand-in issued (SPEC §12), refusing others as Gmail does.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export const PEER_ACCOUNT = 'desk@helpdesk.example';
export const PEER_PASSWORD = 'peer-app-password';
/** What the peer answers a wrong password (Gmail's words, as tests/fixtures/smtp records them). */
export const PEER_AUTH_REFUSAL = '5.7.8 Username and Password not accepted';

export interface ReceivedMail {
	/** The envelope sender (MAIL FROM). */
	from: string;
	/** The envelope recipients (RCPT TO). */
	to: string[];
	/** The message as it arrived, CRLF line ends, dot-stuffing removed. */
	data: string;
	/** The account the session logged in with. */
	user: string;
	at: string;
}

export async function startSmtpPeer(
	options: { oauth?: { isValidAccessToken(token: string, user: string): boolean } } = {}
): Promise<{ port: number; control: string; close: () => Promise<void> }> {
	const received: ReceivedMail[] = [];
	const { oauth } = options;
	const smtp = new SMTPServer({
		logger: false,
		disableReverseLookup: true,
		// Plain TCP on loopback: workerd verifies certificates, so a self-signed STARTTLS would fail.
		allowInsecureAuth: true,
		hideSTARTTLS: true,
		authMethods: oauth ? ['PLAIN', 'LOGIN', 'XOAUTH2'] : ['PLAIN', 'LOGIN'],
		onAuth(auth, _session, callback) {
			if (auth.method === 'XOAUTH2') {
				if (oauth?.isValidAccessToken(auth.accessToken ?? '', auth.username ?? '')) return callback(null, { user: auth.username });
				return callback(null, { data: { status: '401', schemes: 'Bearer', scope: 'https://mail.google.com/' } });
			}
			if (auth.username === PEER_ACCOUNT && auth.password === PEER_PASSWORD) return callback(null, { user: auth.username });
			callback(Object.assign(new Error(PEER_AUTH_REFUSAL), { responseCode: 535 }));
		},
		onData(stream, session, callback) {
			const chunks: Buffer[] = [];
			stream.on('data', (chunk: Buffer) => chunks.push(chunk));
			stream.on('end', () => {
				received.push({
					from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
					to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
					data: Buffer.concat(chunks).toString('utf8'),
					user: String(session.user ?? ''),
					at: new Date().toISOString()
				});
				callback();
			});
		}
	});
	// A client that drops the connection must not end the test run.
	smtp.on('error', () => {});
	await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', () => resolve()));

	const control = createServer((request, response) => {
		if (request.url === '/received') {
			response.writeHead(200, { 'content-type': 'application/json' });
			response.end(JSON.stringify(received));
		} else response.writeHead(404).end();
	});
	await new Promise<void>((resolve) => control.listen(0, '127.0.0.1', () => resolve()));

	return {
		port: (smtp.server.address() as AddressInfo).port,
		control: `http://127.0.0.1:${(control.address() as AddressInfo).port}`,
		close: async () => {
			await new Promise<void>((resolve) => control.close(() => resolve()));
			await new Promise<void>((resolve) => smtp.close(() => resolve()));
		}
	};
}
