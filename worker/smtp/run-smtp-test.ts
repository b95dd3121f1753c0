/**
 * The SMTP sending test (SPEC §4): connect, secure, greet, introduce, log in and send a short
 * message, timing each stage; on failure, classify by the stage reached and the server's
 * words. Side effects (the session, the probe, the clock) are injected with production
 * defaults; the outcome is a value, never an exception.
 */
import { connect } from 'cloudflare:sockets';
import type { Encryption } from '../../src/lib/schema/mailbox';
import type { SmtpCategory, SmtpStage, SmtpTestStep } from '../../src/lib/schema/smtp-test';
import { classify, parseReply, type Failure, type Probe, type SmtpReply } from './classify';
import { CONNECT_TIMEOUT_MS, PROBE_TIMEOUT_MS, QUIT_TIMEOUT_MS, REPLY_TIMEOUT_MS, TOTAL_BUDGET_MS } from './limits';
import { openWorkerMailerSession, type DialogueListener, type SmtpSession } from './mailer-session';
import { checkTarget } from './target';
import { Transcript } from './transcript';

export interface SmtpTestSettings {
	host: string;
	port: number;
	username: string;
	password: string;
	encryption: Encryption;
}

export interface SmtpTestOutcome {
	ok: boolean;
	stage: SmtpStage;
	category: SmtpCategory | null;
	code?: number;
	enhancedCode?: string;
	serverMessage?: string;
	hint: string;
	transcript: string[];
	steps: SmtpTestStep[];
	durationMs: number;
}

export interface SmtpTestOptions {
	settings: SmtpTestSettings;
	from: { name?: string; email: string };
	to: string;
	allowPrivateHosts: boolean;
	openSession?: (settings: SmtpTestSettings, listener: DialogueListener) => SmtpSession;
	probe?: (host: string, port: number) => Promise<Probe>;
	now?: () => number;
}

class StageTimeout extends Error {}

const defaultOpenSession = (settings: SmtpTestSettings, listener: DialogueListener) =>
	openWorkerMailerSession(
		{
			host: settings.host.replace(/^\[|\]$/g, ''),
			port: settings.port,
			secure: settings.encryption === 'tls',
			startTls: settings.encryption === 'starttls',
			credentials: { username: settings.username, password: settings.password },
			// worker-mailer uses this for the connect and for every reply (its responseTimeoutMs
			// option is ignored in 1.2.1); ours below are the ones that count.
			socketTimeoutMs: Math.max(CONNECT_TIMEOUT_MS, REPLY_TIMEOUT_MS) + 1_000
		},
		listener
	);

export async function runSmtpTest(options: SmtpTestOptions): Promise<SmtpTestOutcome> {
	const { settings } = options;
	const now = options.now ?? (() => Date.now());
	const started = now();
	const steps: SmtpTestStep[] = [];
	const transcript = new Transcript({ username: settings.username, password: settings.password });
	let lastReply: SmtpReply | null = null;
	const listener: DialogueListener = {
		client: (data) => transcript.client(data),
		server: (data) => {
			transcript.server(data);
			lastReply = parseReply(data) ?? lastReply;
		}
	};

	const finish = (stage: SmtpStage, failure: Failure | null, probe?: Probe): SmtpTestOutcome => {
		const durationMs = now() - started;
		if (!failure) {
			return {
				ok: true,
				stage,
				category: null,
				hint: `The test message was accepted for ${options.to}. Sending works with these settings.`,
				transcript: transcript.lines,
				steps,
				durationMs
			};
		}
		const verdict = classify({
			stage,
			failure,
			encryption: settings.encryption,
			port: settings.port,
			host: settings.host,
			probe,
			timeoutSeconds: Math.round((stage === 'connect' ? CONNECT_TIMEOUT_MS : REPLY_TIMEOUT_MS) / 1000)
		});
		const reply = failure.kind === 'reply' ? failure.reply : null;
		return {
			ok: false,
			stage,
			category: verdict.category,
			code: reply?.code,
			enhancedCode: reply?.enhancedCode,
			serverMessage: reply?.raw ?? (failure.kind === 'socket' ? failure.message : undefined),
			hint: verdict.hint,
			transcript: transcript.lines,
			steps,
			durationMs
		};
	};

	const refusal = checkTarget({ host: settings.host, port: settings.port, allowPrivate: options.allowPrivateHosts });
	if (refusal) {
		return { ok: false, stage: 'connect', category: 'config', hint: refusal.hint, transcript: [], steps: [], durationMs: 0 };
	}

	let session: SmtpSession;
	try {
		session = (options.openSession ?? defaultOpenSession)(settings, listener);
	} catch (error) {
		steps.push({ stage: 'connect', ok: false, durationMs: now() - started });
		return finish('connect', { kind: 'socket', message: messageOf(error) });
	}

	/** Runs one stage within its own limit and what is left of the whole test's budget. */
	const stage = async (name: SmtpStage, limitMs: number, work: () => Promise<void>): Promise<Failure | null> => {
		const stageStart = now();
		const budget = Math.max(0, Math.min(limitMs, TOTAL_BUDGET_MS - (stageStart - started)));
		const replyBefore = lastReply;
		let timer: ReturnType<typeof setTimeout> | undefined;
		try {
			await Promise.race([
				work(),
				new Promise<never>((_, reject) => {
					timer = setTimeout(() => reject(new StageTimeout()), budget);
				})
			]);
			steps.push({ stage: name, ok: true, durationMs: now() - stageStart });
			return null;
		} catch (error) {
			steps.push({ stage: name, ok: false, durationMs: now() - stageStart });
			session.abort();
			if (error instanceof StageTimeout || /timeout/i.test(messageOf(error))) return { kind: 'timeout' };
			// worker-mailer reports refusals as errors; the reply itself came through the listener.
			if (lastReply && lastReply !== replyBefore && lastReply.code >= 400) return { kind: 'reply', reply: lastReply };
			return { kind: 'socket', message: messageOf(error) };
		} finally {
			if (timer) clearTimeout(timer);
		}
	};

	const tls = settings.encryption === 'tls';
	/**
	 * With SSL/TLS, workerd reports a refused port and a failed handshake alike ("proxy request
	 * failed"), at connect or at the first read. A plain TCP probe of the same port tells them apart.
	 */
	const tlsConnectFailure = async (failed: SmtpStage, failure: Failure): Promise<SmtpTestOutcome> => {
		const probe = await (options.probe ?? probeTcp)(settings.host, settings.port);
		if (probe === 'closed') return finish(failed, failure, probe);
		steps.push({ stage: 'tls', ok: false, durationMs: 0 });
		return finish('tls', failure, probe);
	};
	let failure = await stage('connect', CONNECT_TIMEOUT_MS, () => session.connected());
	if (failure) return tls && failure.kind === 'socket' ? tlsConnectFailure('connect', failure) : finish('connect', failure);
	failure = await stage('greeting', REPLY_TIMEOUT_MS, () => session.greet());
	if (failure) return tls && failure.kind === 'socket' ? tlsConnectFailure('greeting', failure) : finish('greeting', failure);
	if (tls) steps.splice(1, 0, { stage: 'tls', ok: true, durationMs: 0 });
	if ((failure = await stage('ehlo', REPLY_TIMEOUT_MS, () => session.ehlo()))) return finish('ehlo', failure);

	if (settings.encryption === 'starttls') {
		if (!session.capabilities.startTls) {
			session.abort();
			steps.push({ stage: 'tls', ok: false, durationMs: 0 });
			return finish('tls', { kind: 'no-starttls' });
		}
		if ((failure = await stage('tls', REPLY_TIMEOUT_MS, () => session.startTls()))) return finish('tls', failure);
	}

	const { auth, startTls, authMethods } = session.capabilities;
	if (!auth && settings.encryption === 'none' && startTls) {
		// RFC 3207 §4 / RFC 4954 §4: many servers offer AUTH only after STARTTLS.
		session.abort();
		steps.push({ stage: 'auth', ok: false, durationMs: 0 });
		return finish('auth', { kind: 'starttls-required' });
	}
	if (auth && !authMethods.some((method) => method === 'plain' || method === 'login')) {
		session.abort();
		steps.push({ stage: 'auth', ok: false, durationMs: 0 });
		return finish('auth', { kind: 'no-auth-method', offered: authMethods });
	}
	if (auth) {
		if ((failure = await stage('auth', REPLY_TIMEOUT_MS, () => session.authenticate()))) return finish('auth', failure);
	} else {
		transcript.note('the server did not ask for a login; the account and password were not checked');
	}

	// MAIL, RCPT and DATA run inside one send(); the dialogue tells which one failed.
	const sendStart = now();
	let sending: SmtpStage = 'mail';
	const marks: Array<{ stage: SmtpStage; at: number }> = [{ stage: 'mail', at: sendStart }];
	const baseClient = listener.client;
	listener.client = (data) => {
		const next: SmtpStage | null = /^RCPT TO/i.test(data) ? 'rcpt' : /^DATA\r?\n?$/i.test(data) ? 'data' : null;
		if (next && next !== sending) {
			marks.push({ stage: next, at: now() });
			sending = next;
		}
		baseClient(data);
	};
	failure = await stage('mail', REPLY_TIMEOUT_MS * 2, () =>
		session.send({
			from: options.from,
			to: options.to,
			subject: 'Mailgate SMTP test',
			text: `This is a test message from Mailgate, sent to check the SMTP settings of ${options.from.email}.\r\nNo reply is needed.`
		})
	);
	steps.pop();
	const end = now();
	marks.forEach((mark, index) => {
		const until = marks[index + 1]?.at ?? end;
		const failed = failure !== null && index === marks.length - 1;
		steps.push({ stage: mark.stage, ok: !failed, durationMs: until - mark.at });
	});
	if (failure) return finish(sending, failure);
	await Promise.race([session.quit().catch(() => {}), new Promise((resolve) => setTimeout(resolve, QUIT_TIMEOUT_MS))]);
	return finish('data', null);
}

/**
 * After an SSL/TLS connect failed: a plain TCP connection to the same port tells a closed port
 * from a TLS problem (workerd reports both as "proxy request failed").
 */
export async function probeTcp(host: string, port: number): Promise<Probe> {
	let socket: ReturnType<typeof connect> | null = null;
	let timer: ReturnType<typeof setTimeout> | undefined;
	try {
		socket = connect({ hostname: host.replace(/^\[|\]$/g, ''), port }, { secureTransport: 'off', allowHalfOpen: false });
		const deadline = new Promise<'timeout'>((resolve) => {
			timer = setTimeout(() => resolve('timeout'), PROBE_TIMEOUT_MS);
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

function messageOf(error: unknown): string {
	return error instanceof Error ? error.message : String(error);
}
