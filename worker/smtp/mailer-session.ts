/**
 * worker-mailer (pinned) drives the SMTP dialogue over `cloudflare:sockets`. Its public
 * `connect()` runs greeting, EHLO, STARTTLS and AUTH as one step and silently continues in
 * plain text when a server does not offer STARTTLS; a sending test must say which step failed
 * and must not do that. So this adapter calls the same steps one at a time, says its own EHLO
 * (worker-mailer's is `EHLO 127.0.0.1`, a bare address RFC 5321 §4.1.3 does not allow), reads
 * every reply itself through one buffer (so pipelined replies, RFC 2920, are taken one at a
 * time), and listens to worker-mailer's debug logger for what it writes.
 * Everything version-specific about worker-mailer is in this file.
 */
import { WorkerMailer, type WorkerMailerOptions } from 'worker-mailer';
import { textToBase64 } from '../mail/base64';

/** What the test needs from an SMTP session, one step at a time. */
export interface SmtpSession {
	connected(): Promise<void>;
	greet(): Promise<void>;
	/** EHLO with the session's name (HELO when the server does not know EHLO, RFC 5321 §4.1.4). */
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
	/** Writes command lines in one write (several: RFC 2920 §3.1); their replies are read with `reply`. */
	pipeline(lines: readonly string[]): Promise<void>;
	/** The next reply the server sent (any code), in order: one per command written. */
	reply(): Promise<string>;
	/** Writes the (already dot-stuffed, CRLF.CRLF-terminated) message data; its reply is read with `reply`. */
	data(payload: string): Promise<void>;
	quit(): Promise<void>;
	abort(): void;
	readonly capabilities: SmtpCapabilities;
}

/** What the latest EHLO reply offered (RFC 5321 §4.1.1.1; after STARTTLS, the second one counts, RFC 3207 §4.2). */
export interface SmtpCapabilities {
	startTls: boolean;
	auth: boolean;
	authMethods: string[];
	/** RFC 2920: commands may be sent in groups. */
	pipelining: boolean;
	/** RFC 1870: the largest message the server takes, in bytes (0: no fixed limit); null when SIZE was not offered. */
	size: number | null;
}

export interface DialogueListener {
	client(data: string): void;
	/** One whole reply (possibly multi-line), as soon as it has arrived. */
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
	tls(): Promise<void>;
	auth(): Promise<void>;
	parseCapabilities(reply: string): void;
	/** Every read of worker-mailer's own steps (greet, STARTTLS, AUTH, QUIT) goes through this: replaced below. */
	read(): Promise<string>;
	reader: ReadableStreamDefaultReader<Uint8Array>;
	writeLine(line: string): Promise<void>;
	write(data: string): Promise<void>;
	close(error?: Error): Promise<void>;
}

const WRITE = 'Write to socket:\n';

/** RFC 4954 §3 / RFC 5321 §4.1.1.1: the EHLO keyword line that offers the XOAUTH2 mechanism. */
const OFFERS_XOAUTH2 = /^250[ -]AUTH(?:[ =][^\r\n]*)?[ =]XOAUTH2\b/im;
/** RFC 2920 §3: the EHLO keyword PIPELINING. */
const OFFERS_PIPELINING = /^250[ -]PIPELINING\s*$/im;
/** RFC 1870 §4: `SIZE` with an optional maximum in bytes (absent or 0: no fixed maximum). */
const OFFERS_SIZE = /^250[ -]SIZE(?:[ \t]+(\d+))?\s*$/im;

/**
 * The end of one whole reply at the start of `text` (RFC 5321 §4.2.1: every line but the last
 * has a hyphen after the code), or -1 while the reply has not all arrived.
 */
export function replyEnd(text: string): number {
	let start = 0;
	for (;;) {
		const newline = text.indexOf('\n', start);
		if (newline < 0) return -1;
		if (!/^\d{3}-/.test(text.slice(start, start + 4))) return newline + 1;
		start = newline + 1;
	}
}

export function openWorkerMailerSession(options: WorkerMailerOptions & { ehloName: string }, listener: DialogueListener): SmtpSession {
	// The constructor opens the socket (cloudflare:sockets connect) and nothing else.
	const Mailer = WorkerMailer as unknown as new (options: WorkerMailerOptions) => MailerInternals;
	const mailer = new Mailer({ ...options, authType: ['plain', 'login'] });
	const quiet = () => {};
	/**
	 * worker-mailer 1.2.1 parses PLAIN, LOGIN and CRAM-MD5 from the EHLO reply and nothing else, so
	 * the latest EHLO reply is kept here to read XOAUTH2, PIPELINING and SIZE from.
	 */
	let ehloReply = '';
	// Replaces worker-mailer's console logger: its debug lines are the dialogue, which must go to
	// the redacting transcript and never to the Worker's logs (they contain AUTH payloads).
	mailer.logger = {
		debug(message: string) {
			if (message.startsWith(WRITE)) listener.client(message.slice(WRITE.length));
		},
		info: quiet,
		warn: quiet,
		error: quiet
	};
	/**
	 * Replies read from the socket and not yet taken, whole ones first. worker-mailer's `read`
	 * spins forever on a closed connection (it skips an empty read without looking at `done`) and
	 * returns everything one read brought, several pipelined replies as one; this reader reports
	 * a closed connection and hands out one reply at a time, each passed to the listener as soon
	 * as it has arrived (so the transcript shows it even when nobody takes it). The stage around
	 * each call owns the time limit. The reader is looked up each time because STARTTLS replaces it.
	 */
	let decoder = new TextDecoder();
	let partial = '';
	const whole: string[] = [];
	const readReply = async (): Promise<string> => {
		for (;;) {
			const next = whole.shift();
			if (next !== undefined) return next;
			const { value, done } = await mailer.reader.read();
			if (done) throw new Error('the server closed the connection');
			partial += decoder.decode(value, { stream: true });
			for (let end = replyEnd(partial); end > 0; end = replyEnd(partial)) {
				const reply = partial.slice(0, end);
				partial = partial.slice(end);
				listener.server(reply);
				whole.push(reply);
			}
		}
	};
	mailer.read = readReply;
	const ehlo = async () => {
		await mailer.writeLine(`EHLO ${options.ehloName}`);
		let reply = await readReply();
		// RFC 3207 §4.2: what the server offered before (STARTTLS) no longer counts.
		Object.assign(mailer, { allowAuth: false, authTypeSupported: [], supportsStartTls: false });
		ehloReply = '';
		if (/^2/.test(reply)) {
			ehloReply = reply;
			mailer.parseCapabilities(reply);
			return;
		}
		if (/^421/.test(reply)) throw new Error(`EHLO refused: ${reply.trim()}`);
		// RFC 5321 §4.1.4: a server that does not know EHLO may know HELO (then it offers nothing).
		await mailer.writeLine(`HELO ${options.ehloName}`);
		reply = await readReply();
		if (!/^2/.test(reply)) throw new Error(`HELO refused: ${reply.trim()}`);
	};
	return {
		connected: () => mailer.waitForSocketConnected(),
		greet: () => mailer.greet(),
		ehlo,
		startTls: async () => {
			await mailer.tls();
			// RFC 3207 §5 / CVE-2011-0411: anything that came in plain text after the 220 is not
			// the server's answer to what follows; the TLS stream starts clean.
			partial = '';
			whole.length = 0;
			decoder = new TextDecoder();
			await ehlo();
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
		async pipeline(lines) {
			await mailer.write(lines.map((line) => `${line}\r\n`).join(''));
		},
		reply: readReply,
		data: (payload) => mailer.write(payload),
		quit: () => mailer.close(),
		abort() {
			mailer.active = false;
			mailer.socket.close().catch(() => {});
		},
		get capabilities() {
			const authMethods = [...new Set(mailer.authTypeSupported)];
			if (OFFERS_XOAUTH2.test(ehloReply)) authMethods.push('xoauth2');
			const size = OFFERS_SIZE.exec(ehloReply);
			return {
				startTls: mailer.supportsStartTls,
				auth: mailer.allowAuth,
				authMethods,
				pipelining: OFFERS_PIPELINING.test(ehloReply),
				size: size ? Number(size[1] ?? 0) : null
			};
		}
	};
}
