/**
 * The SMTP session under the one sending service (send/smtp-transport.ts opens every SMTP
 * session here, for the sending test, replies and the probe alike). Opening runs connect, TLS, greeting,
 * EHLO, STARTTLS and AUTH one stage at a time, each within its limit, and stops at the first
 * failure with the stage, the server's words and the evidence the classifier needs. The
 * dialogue goes to a redacting transcript, never to the Worker's logs.
 */
import { connect } from 'cloudflare:sockets';
import type { SmtpCategory, SmtpStage, SmtpTestStep } from '../../src/lib/schema/smtp-test';
import { stageLimitMs, type SendTimeouts } from '../send/timeouts';
import { classify, parseReply, type Failure, type Probe, type SmtpReply } from './classify';
import { openWorkerMailerSession, type DialogueListener, type SmtpSession } from './mailer-session';
import type { SmtpSettings } from './settings';
import { checkTarget } from './target';
import { Transcript } from './transcript';

export interface SessionOptions {
	settings: SmtpSettings;
	allowPrivateHosts: boolean;
	/** Each stage's limit, the opening's budget and worker-mailer's own read limit (send/timeouts.ts). */
	timeouts: SendTimeouts;
	/** The name the session greets with (RFC 5321 §4.1.3: a domain, or an address literal; smtp/ehlo-name.ts). */
	ehloName: string;
	openSession?: (settings: SmtpSettings, listener: DialogueListener, socketTimeoutMs: number, ehloName: string) => SmtpSession;
	probe?: (host: string, port: number, limitMs: number) => Promise<Probe>;
	now?: () => number;
}

/** Where and why a session stopped: the input of the classifier. */
export interface StageFailure {
	stage: SmtpStage;
	failure: Failure;
	probe?: Probe;
}

/** A failure explained the way the SMTP test and the outbound attempts show it (SPEC §4). */
export interface Explanation {
	category: SmtpCategory;
	hint: string;
	code?: number;
	enhancedCode?: string;
	serverMessage?: string;
}

class StageTimeout extends Error {}

const defaultOpenSession = (settings: SmtpSettings, listener: DialogueListener, socketTimeoutMs: number, ehloName: string) =>
	openWorkerMailerSession(
		{
			host: settings.host.replace(/^\[|\]$/g, ''),
			port: settings.port,
			secure: settings.encryption === 'tls',
			startTls: settings.encryption === 'starttls',
			// worker-mailer logs in with a password only; XOAUTH2 is the adapter's own (mailer-session.ts).
			credentials: { username: settings.username, password: settings.credential.kind === 'password' ? settings.credential.password : '' },
			// worker-mailer uses this for the connect and for every reply (its responseTimeoutMs
			// option is ignored in 1.2.1); ours per stage are the ones that count.
			socketTimeoutMs,
			ehloName
		},
		listener
	);

export class StagedSession {
	readonly transcript: Transcript;
	readonly steps: SmtpTestStep[] = [];
	readonly started: number;
	readonly now: () => number;
	/** The latest reply the server sent, as the classifier reads it. */
	lastReply: SmtpReply | null = null;
	private session: SmtpSession | null = null;
	private closed = false;
	private readonly listener: DialogueListener;

	private constructor(private readonly options: SessionOptions) {
		this.now = options.now ?? (() => Date.now());
		this.started = this.now();
		this.transcript = new Transcript({ username: options.settings.username, credential: options.settings.credential });
		this.listener = {
			client: (data) => this.transcript.client(data),
			server: (data) => {
				this.transcript.server(data);
				this.lastReply = parseReply(data) ?? this.lastReply;
			}
		};
	}

	/**
	 * Connects and logs in. Returns the open session, or the stage it stopped at (then the
	 * session is closed). A target that can never work (port 25, a private host) is refused
	 * before connecting, as `config`.
	 */
	static async open(options: SessionOptions): Promise<{ session: StagedSession; failure: StageFailure | null; refusal: string | null }> {
		const session = new StagedSession(options);
		const { settings } = options;
		const refusal = checkTarget({ host: settings.host, port: settings.port, allowPrivate: options.allowPrivateHosts });
		if (refusal) return { session, failure: null, refusal: refusal.hint };
		const failure = await session.login();
		return { session, failure, refusal: null };
	}

	/** Classifies a failure with the settings this session used. */
	explain({ stage, failure, probe }: StageFailure): Explanation {
		const { settings } = this.options;
		const verdict = classify({
			stage,
			failure,
			encryption: settings.encryption,
			port: settings.port,
			host: settings.host,
			auth: settings.credential.kind,
			probe,
			timeoutSeconds: Math.round(stageLimitMs(this.options.timeouts, stage) / 1000)
		});
		const reply = failure.kind === 'reply' ? failure.reply : null;
		// Issue 19: only a reply is what the server said; a socket's failure is described in the hint.
		return {
			category: verdict.category,
			hint: verdict.hint,
			code: reply?.code,
			enhancedCode: reply?.enhancedCode,
			serverMessage: reply?.raw
		};
	}

	get smtp(): SmtpSession {
		if (!this.session) throw new Error('the SMTP session is not open');
		return this.session;
	}

	get isOpen(): boolean {
		return this.session !== null && !this.closed;
	}

	/**
	 * Runs one stage within its own limit and what is left of the budget; on failure the
	 * session is aborted and the failure says why (the server's reply when one came).
	 */
	async stage(name: SmtpStage, limitMs: number, work: () => Promise<void>, options: { record?: boolean; budget?: boolean } = {}): Promise<Failure | null> {
		const stageStart = this.now();
		const budget =
			options.budget === false ? limitMs : Math.max(0, Math.min(limitMs, this.options.timeouts.openBudgetMs - (stageStart - this.started)));
		const replyBefore = this.lastReply;
		let timer: ReturnType<typeof setTimeout> | undefined;
		const record = options.record !== false;
		try {
			await Promise.race([
				work(),
				new Promise<never>((_, reject) => {
					timer = setTimeout(() => reject(new StageTimeout()), budget);
				})
			]);
			if (record) this.steps.push({ stage: name, ok: true, durationMs: this.now() - stageStart });
			return null;
		} catch (error) {
			if (record) this.steps.push({ stage: name, ok: false, durationMs: this.now() - stageStart });
			this.abort();
			if (error instanceof StageTimeout || /timeout/i.test(messageOf(error))) return { kind: 'timeout' };
			// worker-mailer reports refusals as errors; the reply itself came through the listener.
			if (this.lastReply && this.lastReply !== replyBefore && this.lastReply.code >= 400) return { kind: 'reply', reply: this.lastReply };
			return { kind: 'socket', message: messageOf(error) };
		} finally {
			if (timer) clearTimeout(timer);
		}
	}

	/**
	 * Sends one command and reads its reply within `limitMs`. A reply of any code is a value;
	 * only a timeout or a broken connection is a failure (and closes the session).
	 */
	async command(stage: SmtpStage, line: string, limitMs: number): Promise<{ reply: SmtpReply } | { failure: Failure }> {
		const failure = await this.pipeline(stage, [line], limitMs);
		return failure ? { failure } : this.next(stage, limitMs);
	}

	/**
	 * Writes a group of commands at once (RFC 2920 §3.1, when the server offers PIPELINING),
	 * within `limitMs`; their replies are read in order with `next`.
	 */
	async pipeline(stage: SmtpStage, lines: readonly string[], limitMs: number): Promise<Failure | null> {
		return this.stage(stage, limitMs, () => this.smtp.pipeline(lines), { record: false, budget: false });
	}

	/** Reads the next reply (to a pipelined command) within `limitMs`, as `command` does. */
	async next(stage: SmtpStage, limitMs: number): Promise<{ reply: SmtpReply } | { failure: Failure }> {
		let raw = '';
		const failure = await this.stage(stage, limitMs, async () => {
			raw = await this.smtp.reply();
		}, { record: false, budget: false });
		if (failure) return { failure };
		return { reply: parseReply(raw) ?? { code: 0, text: raw.trim(), raw: raw.trimEnd() } };
	}

	/** Writes the message data (after a 354) within `limitMs`; its final reply is read with `next`. */
	async data(message: string, limitMs: number): Promise<Failure | null> {
		return this.stage('data', limitMs, () => this.smtp.data(message), { record: false, budget: false });
	}

	/** Says goodbye, waiting at most `limitMs`. */
	async quit(limitMs: number): Promise<void> {
		if (!this.isOpen) return;
		this.closed = true;
		await Promise.race([this.smtp.quit().catch(() => {}), new Promise((resolve) => setTimeout(resolve, limitMs))]);
		this.smtp.abort();
	}

	abort(): void {
		this.closed = true;
		this.session?.abort();
	}

	private async login(): Promise<StageFailure | null> {
		const { settings } = this.options;
		try {
			this.session = (this.options.openSession ?? defaultOpenSession)(
				settings,
				this.listener,
				this.options.timeouts.socketMs,
				this.options.ehloName
			);
		} catch (error) {
			this.steps.push({ stage: 'connect', ok: false, durationMs: this.now() - this.started });
			return { stage: 'connect', failure: { kind: 'socket', message: messageOf(error) } };
		}
		const session = this.session;
		const tls = settings.encryption === 'tls';
		/**
		 * With SSL/TLS, workerd reports a refused port and a failed handshake alike ("proxy request
		 * failed"), at connect or at the first read. A plain TCP probe of the same port tells them apart.
		 */
		const tlsConnectFailure = async (failed: SmtpStage, failure: Failure): Promise<StageFailure> => {
			const probe = await (this.options.probe ?? probeTcp)(settings.host, settings.port, this.options.timeouts.tlsProbeMs);
			if (probe === 'closed') return { stage: failed, failure, probe };
			this.steps.push({ stage: 'tls', ok: false, durationMs: 0 });
			return { stage: 'tls', failure, probe };
		};
		const refuse = (stage: SmtpStage, failure: Failure): StageFailure => {
			this.abort();
			this.steps.push({ stage, ok: false, durationMs: 0 });
			return { stage, failure };
		};

		const { timeouts } = this.options;
		let failure = await this.stage('connect', timeouts.connectMs, () => session.connected());
		if (failure) return tls && failure.kind === 'socket' ? tlsConnectFailure('connect', failure) : { stage: 'connect', failure };
		failure = await this.stage('greeting', timeouts.greetingMs, () => session.greet());
		if (failure) return tls && failure.kind === 'socket' ? tlsConnectFailure('greeting', failure) : { stage: 'greeting', failure };
		if (tls) this.steps.splice(1, 0, { stage: 'tls', ok: true, durationMs: 0 });
		if ((failure = await this.stage('ehlo', timeouts.ehloMs, () => session.ehlo()))) return { stage: 'ehlo', failure };

		if (settings.encryption === 'starttls') {
			if (!session.capabilities.startTls) return refuse('tls', { kind: 'no-starttls' });
			if ((failure = await this.stage('tls', timeouts.tlsMs, () => session.startTls()))) return { stage: 'tls', failure };
		}

		const { auth, startTls, authMethods } = session.capabilities;
		const { credential } = settings;
		// RFC 3207 §4 / RFC 4954 §4: many servers offer AUTH only after STARTTLS.
		if (!auth && settings.encryption === 'none' && startTls) return refuse('auth', { kind: 'starttls-required' });
		const usable = credential.kind === 'oauth2' ? ['xoauth2'] : ['plain', 'login'];
		if (auth && !authMethods.some((method) => usable.includes(method))) {
			return refuse('auth', { kind: 'no-auth-method', offered: authMethods });
		}
		if (auth) {
			const login =
				credential.kind === 'oauth2' ? () => session.authenticateXOAuth2(settings.username, credential.accessToken) : () => session.authenticate();
			if ((failure = await this.stage('auth', timeouts.authMs, login))) return { stage: 'auth', failure };
		} else {
			this.transcript.note(
				credential.kind === 'oauth2'
					? 'the server did not ask for a login; the OAuth sign-in was not used'
					: 'the server did not ask for a login; the account and password were not checked'
			);
		}
		return null;
	}
}

/**
 * After an SSL/TLS connect failed: a plain TCP connection to the same port tells a closed port
 * from a TLS problem (workerd reports both as "proxy request failed").
 */
export async function probeTcp(host: string, port: number, limitMs: number): Promise<Probe> {
	let socket: ReturnType<typeof connect> | null = null;
	let timer: ReturnType<typeof setTimeout> | undefined;
	try {
		socket = connect({ hostname: host.replace(/^\[|\]$/g, ''), port }, { secureTransport: 'off', allowHalfOpen: false });
		const deadline = new Promise<'timeout'>((resolve) => {
			timer = setTimeout(() => resolve('timeout'), limitMs);
		});
		if ((await Promise.race([socket.opened.then(() => 'open' as const), deadline])) === 'timeout') return 'closed';
		const reader = socket.readable.getReader();
		const first = await Promise.race([reader.read(), deadline]);
		if (first === 'timeout' || !first.value) return 'silent';
		return /^220/.test(new TextDecoder().decode(first.value)) ? 'plain-greeting' : 'silent';
	} catch {
		return 'closed';
	} finally {
		if (timer) clearTimeout(timer);
		socket?.close().catch(() => {});
	}
}

export function messageOf(error: unknown): string {
	return error instanceof Error ? error.message : String(error);
}
