/**
 * worker-mailer (pinned) drives the SMTP dialogue over `cloudflare:sockets`. Its public
 * `connect()` runs greeting, EHLO, STARTTLS and AUTH as one step and silently continues in
 * plain text when a server does not offer STARTTLS; a sending test must say which step failed
 * and must not do that. So this adapter calls the same steps one at a time, reads the
 * capabilities worker-mailer parsed, and listens to its debug logger for the dialogue.
 * Everything version-specific about worker-mailer is in this file.
 */
import { WorkerMailer, type EmailOptions, type WorkerMailerOptions } from 'worker-mailer';

/** What the test needs from an SMTP session, one step at a time. */
export interface SmtpSession {
	connected(): Promise<void>;
	greet(): Promise<void>;
	ehlo(): Promise<void>;
	startTls(): Promise<void>;
	authenticate(): Promise<void>;
	send(email: EmailOptions): Promise<void>;
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
	start(): Promise<void>;
	send(email: EmailOptions): Promise<void>;
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
	return {
		connected: () => mailer.waitForSocketConnected(),
		greet: () => mailer.greet(),
		ehlo: () => mailer.ehlo(),
		startTls: async () => {
			await mailer.tls();
			await mailer.ehlo();
		},
		authenticate: () => mailer.auth(),
		async send(email) {
			mailer.active = true;
			void mailer.start().catch(() => {});
			await mailer.send(email);
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
