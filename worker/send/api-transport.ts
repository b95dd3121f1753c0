/**
 * Sending through Microsoft Graph or the Gmail API (SPEC §14): one HTTPS request per message with
 * the access token the login got (stage `token`), the MIME as composed (stage `send`). A 401 renews
 * the token once within the same attempt; every other answer is explained by api-answers.ts. The
 * transcript keeps the request line and the status, never the token or the body.
 */
import type { SmtpTestStep } from '../../src/lib/schema/smtp-test';
import { API_MAX_MIME_BYTES, judgeAnswer, noAnswerHint, providerWords, tooLargeHint, unreachableHint } from './api-answers';
import { apiMime, apiRequest, isSent, readAnswer } from './api-request';
import type { ApiSignIn } from './login';
import { stageLimitMs, type SendTimeouts } from './timeouts';
import type { OutgoingMessage, SendAttempt, SendOutcome, Transport, TransportSession } from './transport';


export interface ApiTransportOptions {
	timeouts: SendTimeouts;
	now?: () => number;
}

const REDACTED = '[redacted]';

export function apiTransport(signIn: ApiSignIn, options: ApiTransportOptions): Transport {
	return {
		async open() {
			return { session: new ApiSession(signIn, options), failure: null };
		}
	};
}

class ApiSession implements TransportSession {
	readonly transcript: string[] = [];
	readonly steps: SmtpTestStep[];
	private open = true;
	private accessToken: string;
	/** Every token this session held, for redaction. */
	private readonly tokens: string[];
	private readonly now: () => number;
	private readonly started: number;

	constructor(
		private readonly signIn: ApiSignIn,
		private readonly options: ApiTransportOptions
	) {
		this.accessToken = signIn.accessToken;
		this.tokens = [signIn.accessToken];
		this.now = options.now ?? (() => Date.now());
		this.started = this.now() - signIn.tokenMs;
		this.steps = [{ stage: 'token', ok: true, durationMs: signIn.tokenMs }];
	}

	get isOpen(): boolean {
		return this.open;
	}

	async reset(): Promise<void> {
		// Each message is a request of its own: nothing to clear between them.
	}

	async close(): Promise<void> {
		this.open = false;
	}

	async send(message: OutgoingMessage): Promise<SendOutcome> {
		const { provider } = this.signIn;
		const linesBefore = this.transcript.length;
		const mime = new TextEncoder().encode(apiMime(message.raw, message.bcc ?? []));
		if (mime.byteLength > API_MAX_MIME_BYTES[provider]) {
			return this.failed({ category: 'rejected', temporary: false, hint: tooLargeHint(provider, mime.byteLength) }, linesBefore);
		}
		const request = apiRequest(this.signIn, mime);
		await message.beforeData?.();
		const stepStarted = this.now();
		let refreshed = false;
		for (;;) {
			const answered = await this.post(request);
			if ('failure' in answered) {
				this.steps.push({ stage: 'send', ok: false, durationMs: this.now() - stepStarted });
				return this.failed(answered.failure, linesBefore);
			}
			const answer = await readAnswer(answered.response, this.now());
			const words = this.redact(providerWords(answer));
			this.transcript.push(`S: ${answer.status} ${answered.response.statusText || ''}${words ? ` ${words}` : ''}`.trimEnd());
			if (isSent(provider, answer.status)) {
				this.steps.push({ stage: 'send', ok: true, durationMs: this.now() - stepStarted });
				const recipients = message.recipients;
				return {
					ok: true,
					via: 'api',
					code: answer.status,
					serverMessage: `${answer.status} ${answered.response.statusText || 'Accepted'}`.trim(),
					providerMessageId: answer.providerMessageId,
					accepted: [...recipients],
					refused: [],
					transcript: this.transcript.slice(linesBefore)
				};
			}
			if (answer.status === 401 && !refreshed) {
				// SPEC §14: the token may have expired or been withdrawn since it was cached: renew it once.
				refreshed = true;
				const renewed = await this.signIn.renew();
				if (renewed.ok) {
					this.accessToken = renewed.accessToken;
					this.tokens.push(renewed.accessToken);
					this.transcript.push('(the access token was refused: a new one was asked for, and the request is made again)');
					continue;
				}
				this.steps.push({ stage: 'token', ok: false, durationMs: this.now() - stepStarted });
				const { category, hint, temporary } = renewed.failure;
				return this.failed({ stage: 'token', category, hint, temporary, credential: renewed.failure.reason, code: 401, serverMessage: words || undefined }, linesBefore);
			}
			this.steps.push({ stage: 'send', ok: false, durationMs: this.now() - stepStarted });
			const verdict = judgeAnswer(provider, answer, { account: this.signIn.account, refreshed });
			return this.failed({ ...verdict, code: answer.status, serverMessage: words || `HTTP ${answer.status}` }, linesBefore);
		}
	}

	/** One request, within what is left of the send's limit. */
	private async post(request: ReturnType<typeof apiRequest>): Promise<{ response: Response } | { failure: Partial<SendAttempt> & Pick<SendAttempt, 'category' | 'hint' | 'temporary'> }> {
		const { provider } = this.signIn;
		const limitMs = Math.max(1, Math.min(stageLimitMs(this.options.timeouts, 'send'), this.budgetLeft()));
		this.transcript.push(`C: ${request.line} (Host: ${new URL(request.url).host}, Authorization: Bearer ${REDACTED}, Content-Type: ${request.contentType}, ${request.body.length} bytes)`);
		const timeout = AbortSignal.timeout(limitMs);
		// The body is handed over through a stream, so whether the runtime read it tells whether the
		// request went out: workerd says "Network connection lost." for a refused connection and for
		// one that broke after the request, and SPEC §14 answers the two differently.
		const body = new TextEncoder().encode(request.body);
		const { readable, writable } = new FixedLengthStream(body.byteLength);
		const writer = writable.getWriter();
		let wentOut = false;
		// The runtime reads a chunk and writes it to the connection before it reads the next, so the
		// second chunk's read means the first reached a connection that was made.
		void writer.write(body.subarray(0, 1)).catch(() => undefined);
		void writer.write(body.subarray(1)).then(
			() => {
				wentOut = true;
			},
			() => undefined
		);
		void writer.close().catch(() => undefined);
		void writer.closed.catch(() => undefined);
		try {
			const response = await fetch(request.url, {
				method: 'POST',
				headers: { authorization: `Bearer ${this.accessToken}`, 'content-type': request.contentType },
				body: readable,
				signal: timeout,
				redirect: 'manual'
			});
			return { response };
		} catch (error) {
			const seconds = Math.round(limitMs / 1000);
			const detail = this.redact(error instanceof Error ? error.message : String(error)).slice(0, 200);
			if (timeout.aborted) {
				this.transcript.push(`(no answer within ${seconds} s)`);
				if (!wentOut) return { failure: { category: 'connection', temporary: true, hint: unreachableHint(provider, `no connection within ${seconds} seconds`) } };
				return { failure: { category: 'timeout', temporary: false, mayHaveArrived: true, hint: noAnswerHint(provider, seconds) } };
			}
			this.transcript.push(`(${detail}${wentOut ? '' : '; the request did not go out'})`);
			if (wentOut) return { failure: { category: 'timeout', temporary: false, mayHaveArrived: true, hint: noAnswerHint(provider, null) } };
			return { failure: { category: 'connection', temporary: true, hint: unreachableHint(provider, detail) } };
		}
	}

	/** What is left of an interactive send's budget (the SMTP test and the probe); unbounded for replies. */
	private budgetLeft(): number {
		const { sendBudgetMs } = this.options.timeouts;
		return sendBudgetMs === null ? Number.POSITIVE_INFINITY : sendBudgetMs - (this.now() - this.started);
	}

	private failed(attempt: Partial<SendAttempt> & Pick<SendAttempt, 'category' | 'hint' | 'temporary'>, linesBefore: number): SendOutcome {
		return {
			ok: false,
			attempt: { stage: 'send', mayHaveArrived: false, refused: [], ...attempt, transcript: this.transcript.slice(linesBefore) }
		};
	}

	/** The token never reaches a transcript or the server's words, even if a provider echoed it. */
	private redact(text: string): string {
		return this.tokens.reduce((redacted, token) => (token ? redacted.split(token).join(REDACTED) : redacted), text);
	}
}
