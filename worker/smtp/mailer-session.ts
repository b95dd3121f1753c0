/**
 * worker-mailer (pinned) drives the SMTP dialogue over `cloudflare:sockets`. Its public
 * `connect()` runs greeting, EHLO, STARTTLS and AUTH as one step and silently continues in
 * plain text when a server does not offer STARTTLS; a sending test must say which step failed
 * and must not do that. So this adapter calls the same steps one at a time, reads the
 * capabilities worker-mailer parsed, and listens to its debug logger for the dialogue.
 * Everything version-specific about worker-mailer is in this file.
 */
import { WorkerMailer, type WorkerMailerOptions } from 'worker-mailer';

/** What the test needs from an SMTP session, one step at a time. */
export interface SmtpSession {
	connected(): Promise<void>;
	greet(): Promise<void>;
	ehlo(): Promise<void>;
	startTls(): Promise<void>;
	authenticate(): Promise<void>;
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

export function openWorkerMailerSession(options: WorkerMailerOptions, listener: DialogueListener): SmtpSession {
	// The constructor opens the socket (cloudflare:sockets connect) and nothing else.
	const Mailer = WorkerMailer as unknown as new (options: WorkerMailerOptions) => MailerInternals;
	const mailer = new Mailer({ ...options, authType: ['plain', 'login'] });
	const quiet = () => {};
	// Replaces worker-mailer's console logger: its debug lines are the dialogue, which must go to
	// the redacting transcript and never to the Worker's logs (they contain AUTH payloads).
	mailer.logger = {
		debug(message: string) {
			if (message.startsWith(WRITE)) listener.client(message.slice(WRITE.length));
			else if (message.startsWith(READ)) listener.server(message.slice(READ.length));
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
			return { startTls: mailer.supportsStartTls, auth: mailer.allowAuth, authMethods: mailer.authTypeSupported };
		}
	};
}
