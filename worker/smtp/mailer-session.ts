/**
 * worker-mailer (pinned) drives the SMTP dialogue over `cloudflare:sockets`. Its public
 * `connect()` runs greeting, EHLO, STARTTLS and AUTH as one step and silently continues in
 * plain text when a server does not offer STARTTLS; a sending test must say which step failed
 * and must not do that. So this adapter calls the same steps one at a time, reads the
 * capabilities worker-mailer parsed, and listens to its debug logger for the dialogue.
 * Everything version-specific about worker-mailer is in this file.
 */
import { WorkerMailer, type WorkerMailerOptions } from 'worker-mailer';
import { textToBase64 } from '../mail/base64';

/** What the test needs from an SMTP session, one step at a time. */
export interface SmtpSession {
	connected(): Promise<void>;
	greet(): Promise<void>;
	ehlo(): Promise<void>;
	startTls(): Promise<void>;
	/** AUTH PLAIN or LOGIN with the password the session was opened with (worker-mailer's own). */
	authenticate(): Promise<void>;
	/**
	 * AUTH XOAUTH2 (SPEC §12; Google's and Microsoft's SASL profile of an OAuth 2.0 bearer token,
	 * as RFC 7628 OAUTHBEARER without the GS2 header): resolves on 235, throws after any other
	 * final reply (which reaches the listener first).
	 */
	authenticateXOAuth2(user: string, accessToken: string): Promise<void>;
	/** Writes one command line and returns the server's whole reply (any code). */
	command(line: string): Promise<string>;
	/** Writes the (already dot-stuffed, CRLF.CRLF-terminated) message data and returns the reply. */
	data(payload: string): Promise<string>;
	quit(): Promise<void>;
	abort(): void;
	readonly capabilities: { startTls: boolean; auth: boolean; authMethods: string[] };
}

export interface DialogueListener {
	client(data: string): void;
	server(data: string): void;
}

/** worker-mailer's private members this adapter relies on (worker-mailer 1.2.1). */
interface MailerInternals {
	socket: { close(): Promise<void> };
	logger: { debug(m: string): void; info(m: string): void; warn(m: string): void; error(m: string): void };
	active: boolean;
	supportsStartTls: boolean;
	allowAuth: boolean;
	authTypeSupported: string[];
	waitForSocketConnected(): Promise<void>;
	greet(): Promise<void>;
	ehlo(): Promise<void>;
	tls(): Promise<void>;
	auth(): Promise<void>;
	reader: ReadableStreamDefaultReader<Uint8Array>;
	writeLine(line: string): Promise<void>;
	write(data: string): Promise<void>;
	close(error?: Error): Promise<void>;
}

const WRITE = 'Write to socket:\n';
const READ = 'SMTP server response:\n';

/** RFC 4954 §3 / RFC 5321 §4.1.1.1: the EHLO keyword line that offers the XOAUTH2 mechanism. */
const OFFERS_XOAUTH2 = /^250[ -]AUTH(?:[ =][^\r\n]*)?[ =]XOAUTH2\b/im;

export function openWorkerMailerSession(options: WorkerMailerOptions, listener: DialogueListener): SmtpSession {
	// The constructor opens the socket (cloudflare:sockets connect) and nothing else.
	const Mailer = WorkerMailer as unknown as new (options: WorkerMailerOptions) => MailerInternals;
	const mailer = new Mailer({ ...options, authType: ['plain', 'login'] });
	const quiet = () => {};
	/**
	 * worker-mailer 1.2.1 parses PLAIN, LOGIN and CRAM-MD5 from the EHLO reply and nothing else, so
	 * the latest EHLO reply is kept here to read XOAUTH2 from (after STARTTLS, the second one counts).
	 */
	let ehloReply = '';
	let readingEhlo = false;
	// Replaces worker-mailer's console logger: its debug lines are the dialogue, which must go to
	// the redacting transcript and never to the Worker's logs (they contain AUTH payloads).
	mailer.logger = {
		debug(message: string) {
			if (message.startsWith(WRITE)) {
				const line = message.slice(WRITE.length);
				readingEhlo = /^EHLO\b/i.test(line);
				if (readingEhlo) ehloReply = '';
				listener.client(line);
			} else if (message.startsWith(READ)) {
				const chunk = message.slice(READ.length);
				if (readingEhlo) ehloReply += chunk;
				listener.server(chunk);
			}
		},
		info: quiet,
		warn: quiet,
		error: quiet
	};
	/**
	 * One whole (possibly multi-line, RFC 5321 §4.2.1) reply. worker-mailer's `read` spins
	 * forever on a closed connection (it skips an empty read without looking at `done`); this
	 * one reports it. The stage around each call owns the time limit. The reader is looked up
	 * each time because STARTTLS replaces it.
	 */
	const decoder = new TextDecoder();
	const readReply = async (): Promise<string> => {
		let text = '';
		for (;;) {
			const { value, done } = await mailer.reader.read();
			if (done) throw new Error('the server closed the connection');
			const chunk = decoder.decode(value);
			listener.server(chunk);
			text += chunk;
			if (!text.endsWith('\n')) continue;
			const lines = text.split(/\r?\n/);
			if (!/^\d{3}-/.test(lines[lines.length - 2] ?? '')) return text;
		}
	};
	return {
		connected: () => mailer.waitForSocketConnected(),
		greet: () => mailer.greet(),
		ehlo: () => mailer.ehlo(),
		startTls: async () => {
			await mailer.tls();
			await mailer.ehlo();
		},
		authenticate: () => mailer.auth(),
		async authenticateXOAuth2(user, accessToken) {
			// The initial response carries the whole credential (RFC 4954 §4), base64 of
			// "user=ACCOUNT^Aauth=Bearer TOKEN^A^A".
			await mailer.writeLine(`AUTH XOAUTH2 ${textToBase64(`user=${user}\u0001auth=Bearer ${accessToken}\u0001\u0001`)}`);
			let reply = await readReply();
			if (/^334[ -]/.test(reply)) {
				// A refusal comes first as a 334 challenge carrying the error (JSON); the client answers
				// with an empty line and the server then sends its final reply (RFC 7628 §3.2.3).
				await mailer.writeLine('');
				reply = await readReply();
			}
			if (!/^235[ -]/.test(reply)) throw new Error(`XOAUTH2 login refused: ${reply.trim()}`);
		},
		// worker-mailer's own MAIL/RCPT/DATA stop at the first refused recipient and compose the
		// message themselves; a transaction (smtp/transaction.ts) needs each reply and must send
		// the stored bytes, so it drives the dialogue with worker-mailer's line primitives.
		async command(line) {
			await mailer.writeLine(line);
			return readReply();
		},
		async data(payload) {
			await mailer.write(payload);
			return readReply();
		},
		quit: () => mailer.close(),
		abort() {
			mailer.active = false;
			mailer.socket.close().catch(() => {});
		},
		get capabilities() {
			const authMethods = [...new Set(mailer.authTypeSupported)];
			if (OFFERS_XOAUTH2.test(ehloReply)) authMethods.push('xoauth2');
			return { startTls: mailer.supportsStartTls, auth: mailer.allowAuth, authMethods };
		}
	};
}
