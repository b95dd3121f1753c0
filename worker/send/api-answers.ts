/**
 * What Microsoft Graph's and the Gmail API's answers to a send mean (SPEC §14's table): the
 * category, whether it is worth trying again by itself (and not before when), and the words the
 * admin reads. Pure: the answer's status and the provider's error fields in, a verdict out.
 */
import type { OAuthProvider } from '../../src/lib/schema/mailbox';
import type { SmtpCategory } from '../../src/lib/schema/smtp-test';
import type { ProviderLimit } from '../../src/lib/schema/send-outcome';
import { LIMIT_WAIT_SECONDS } from '../smtp/provider-limit';

/** The API each provider sends through (the words hints use). */
export const API_NAMES: Record<OAuthProvider, string> = { microsoft: 'Microsoft Graph', google: 'the Gmail API' };

/**
 * SPEC §14: a Graph request carries at most 4 MB and the MIME travels base64-encoded (4 bytes
 * for every 3), so 3 MiB of MIME is the most one request holds.
 */
export const GRAPH_MAX_MIME_BYTES = 3 * 1024 * 1024;
/**
 * Gmail's `messages.send` takes up to 35 MB (Google's documented upload limit); the MIME travels
 * base64url-encoded in a JSON body, so about three quarters of that is MIME.
 */
export const GMAIL_MAX_MIME_BYTES = Math.floor((35 * 1024 * 1024 * 3) / 4) - 1024;
export const API_MAX_MIME_BYTES: Record<OAuthProvider, number> = { microsoft: GRAPH_MAX_MIME_BYTES, google: GMAIL_MAX_MIME_BYTES };

/**
 * The longest wait a Retry-After may ask for that is taken as asked: a provider asking for more
 * than the reply schedule's longest gap (6 hours) is taken at that gap's length instead.
 */
export const MAX_RETRY_AFTER_SECONDS = 6 * 3600;

/** The provider's answer as api-request.ts read it (bounded, never the token). */
export interface ProviderAnswer {
	status: number;
	/** Graph `error.code` (ErrorSendAsDenied…), Gmail `error.status` (PERMISSION_DENIED…). */
	code?: string;
	/** Gmail `error.errors[0].reason` (insufficientPermissions, userRateLimitExceeded…). */
	reason?: string;
	/** `error.message`, as the provider wrote it. */
	message?: string;
	/** Retry-After (RFC 9110 §10.2.3), in seconds from now, when given. */
	retryAfterSeconds?: number;
}

export interface AnswerVerdict {
	category: SmtpCategory;
	temporary: boolean;
	hint: string;
	/** Not to be tried again before this many seconds (Retry-After). */
	retryAfterSeconds?: number;
	/** SPEC §15: the provider's limit (429, Gmail's rate 403s): the mailbox pauses. */
	limit?: ProviderLimit;
}

const RATE_REASONS = new Set(['userRateLimitExceeded', 'rateLimitExceeded', 'dailyLimitExceeded']);
/** Gmail's quota of messages a day (`dailyLimitExceeded`), as against its per-minute rate. */
const DAILY_REASONS = new Set(['dailyLimitExceeded']);
const SERVER_TROUBLE = new Set([500, 502, 503, 504]);

/** The provider's own words, as a hint quotes them. */
export function providerWords(answer: ProviderAnswer): string {
	const named = [answer.code, answer.reason].filter(Boolean).join(', ');
	return [named, answer.message].filter(Boolean).join(': ');
}

/** SPEC §14's table: what a refused send means. `refreshed`: a 401 after the token was renewed once. */
export function judgeAnswer(provider: OAuthProvider, answer: ProviderAnswer, context: { account: string; refreshed: boolean }): AnswerVerdict {
	const api = API_NAMES[provider];
	const { status, code = '', reason = '' } = answer;
	const said = providerWords(answer);
	const quoted = said ? ` (${said})` : '';
	const later = (hint: string): AnswerVerdict => ({ category: 'rejected', temporary: true, hint, ...retryAfter(answer) });
	if (status === 401) {
		return {
			category: 'auth',
			temporary: false,
			hint: `${api} refused the access token${context.refreshed ? ' again after it was renewed' : ''}${quoted}. Press Reconnect on the mailbox page and sign in as ${context.account} again.`
		};
	}
	if (status === 429 || (status === 403 && RATE_REASONS.has(reason))) {
		const when = answer.retryAfterSeconds !== undefined ? ` It asked to wait ${wait(answer.retryAfterSeconds)}.` : '';
		// SPEC §15: Retry-After when given; else a minute for a rate, an hour for a daily quota.
		const kind = DAILY_REASONS.has(reason) ? 'daily' : 'rate';
		const limit: ProviderLimit = { kind, retryAfterSeconds: answer.retryAfterSeconds ?? LIMIT_WAIT_SECONDS[kind] };
		return { ...later(`${api} is limiting how much ${context.account} sends${quoted}.${when} The mailbox's replies wait and leave by themselves; nothing to do.`), limit };
	}
	if (provider === 'microsoft' && code === 'ErrorSendAsDenied') {
		return {
			category: 'rejected',
			temporary: false,
			hint: `Microsoft 365 does not let ${context.account} send as this mailbox's address${quoted}. Give ${context.account} "Send As" permission on the mailbox in the Exchange admin center, or sign in as the mailbox itself.`
		};
	}
	if (status === 403 && (code === 'ErrorAccessDenied' || reason === 'insufficientPermissions' || code === 'PERMISSION_DENIED' || code === 'Authorization_RequestDenied')) {
		const who = provider === 'microsoft' ? 'a Microsoft 365 administrator must approve Mailgate for the organisation (admin consent)' : 'a Google Workspace administrator must allow Mailgate';
		return {
			category: 'auth',
			temporary: false,
			hint: `${api} refused to send for ${context.account}${quoted}: consent to sending mail was not given, or ${who}. Press Reconnect on the mailbox page and accept sending mail.`
		};
	}
	if (provider === 'microsoft' && (status === 404 || code === 'MailboxNotEnabledForRESTAPI' || code === 'ResourceNotFound' || code === 'ErrorInvalidUser')) {
		return {
			category: 'config',
			temporary: false,
			hint: `${context.account} has no Exchange Online mailbox that Microsoft Graph can send from${quoted}: give the account a licence with Exchange Online, or sign in as an account that has one.`
		};
	}
	if (status === 413 || code === 'ErrorMessageSizeExceeded') {
		return { category: 'rejected', temporary: false, hint: `${api} refused the message as too large${quoted}. Send it with smaller attachments, or choose Send through: SMTP server, which has no such limit.` };
	}
	if (SERVER_TROUBLE.has(status)) {
		return { category: 'connection', temporary: true, hint: `${api} had a problem (HTTP ${status})${quoted}. This is on the provider's side: it is retried by itself.`, ...retryAfter(answer) };
	}
	if (status === 400) {
		return { category: 'rejected', temporary: false, hint: `${api} refused the message${quoted}. The provider's words name what is wrong (often a recipient address).` };
	}
	return { category: 'rejected', temporary: false, hint: `${api} refused the message with HTTP ${status}${quoted}.` };
}

/** A message too large for one API request, found before any request (SPEC §14). */
export function tooLargeHint(provider: OAuthProvider, bytes: number): string {
	const limit = API_MAX_MIME_BYTES[provider];
	return `This message is ${megabytes(bytes)}, more than the ${megabytes(limit)} ${API_NAMES[provider]} takes in one request, so it was not sent. Send it with smaller attachments, or choose Send through: SMTP server, which has no such limit.`;
}

/** The connection failed before the request went out: the provider is retried (SPEC §14). */
export function unreachableHint(provider: OAuthProvider, detail: string): string {
	return `Mailgate could not reach ${API_NAMES[provider]} (${detail}). This is usually temporary: it is retried by itself.`;
}

/** No answer in time, or the connection broke after the request went out (SPEC §14: may have arrived). */
export function noAnswerHint(provider: OAuthProvider, seconds: number | null): string {
	const when = seconds === null ? 'the connection broke before it answered' : `it did not answer within ${seconds} seconds`;
	return `The message went to ${API_NAMES[provider]}, but ${when}. It may or may not have been sent, so it is not sent again by itself: check the Sent Items of the account before using Retry.`;
}

/**
 * Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date, as seconds from `now`; nothing
 * for a value that is neither. Bounded by MAX_RETRY_AFTER_SECONDS.
 */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
	if (value === null) return undefined;
	const text = value.trim();
	if (/^\d{1,10}$/.test(text)) return Math.min(Number(text), MAX_RETRY_AFTER_SECONDS);
	// An HTTP-date starts with its day name (IMF-fixdate, or the obsolete RFC 850 and asctime forms);
	// Date.parse alone would take "-5" or "1.5" as dates.
	if (text.length > 64 || !/^(Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,? /.test(text)) return undefined;
	const at = Date.parse(text);
	if (Number.isNaN(at)) return undefined;
	return Math.min(Math.max(0, Math.ceil((at - now) / 1000)), MAX_RETRY_AFTER_SECONDS);
}

function retryAfter(answer: ProviderAnswer): { retryAfterSeconds?: number } {
	return answer.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: answer.retryAfterSeconds };
}

function wait(seconds: number): string {
	if (seconds < 120) return `${seconds} seconds`;
	if (seconds < 7200) return `${Math.round(seconds / 60)} minutes`;
	return `${Math.round(seconds / 3600)} hours`;
}

function megabytes(bytes: number): string {
	return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}
