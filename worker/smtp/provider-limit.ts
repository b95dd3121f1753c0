/**
 * SPEC §15: a provider's limit answer is a pause, not a failure, whatever its first digit.
 * Microsoft 365's daily quota answers `554 5.2.0`, Google's `550 5.4.5`: both free themselves
 * within a day, so a 5xx here means "wait", never "give up". Pure: a parsed reply in, the kind of
 * limit, how long to wait and the words the admin reads out.
 */
import type { ProviderLimit } from '../../src/lib/schema/send-outcome';

/** What is read of a reply (smtp/classify.ts `LimitReply`): its code, enhanced code and words. */
export interface LimitReply {
	code: number;
	enhancedCode?: string;
	text: string;
}

/**
 * SPEC §15: a concurrency or rate answer without a time waits a minute (Microsoft 365 and
 * Google count sends in a rolling minute); a daily quota waits an hour at a time, since a rolling
 * 24-hour window frees capacity gradually rather than all at once.
 */
export const LIMIT_WAIT_SECONDS: Record<ProviderLimit['kind'], number> = { concurrency: 60, rate: 60, daily: 3600 };

interface LimitAnswer {
	kind: ProviderLimit['kind'];
	matches(reply: LimitReply): boolean;
	hint: string;
}

const words = (reply: LimitReply) => `${reply.enhancedCode ?? ''} ${reply.text}`;
/** A 4.7.0 or 421 about encryption or logging in is not a limit (Postfix `454 4.7.0 TLS not available`). */
const NOT_A_LIMIT_WORDS = /tls|starttls|ssl|auth|credential|password/i;
/** Words providers use for a per-minute rate or a quota (Gmail, Microsoft `PRX4 Submission rate limit`, Yahoo `[TS03]`). */
const RATE_WORDS = /submission rate|too many (messages|emails|mails)|rate limit|sending (quota|limit)|quota exceeded|throttl/i;
const DAILY_WORDS = /daily|per day|24 hours|submissionquotaexceeded/i;

const LATER = 'Replies wait and leave by themselves; nothing to do.';

/** The known limit answers (SPEC §15's list, each with its source in the README), most specific first. */
const LIMIT_ANSWERS: readonly LimitAnswer[] = [
	{
		// Microsoft 365: `554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException`.
		kind: 'daily',
		matches: (reply) => /submissionquotaexceeded/i.test(reply.text),
		hint: `Microsoft 365 allows 10,000 recipients a day from one mailbox, and this one has reached it. The quota frees itself within 24 hours: replies wait and are tried again every hour. ${LATER}`
	},
	{
		// Google: `550 5.4.5 Daily user sending limit exceeded`.
		kind: 'daily',
		matches: (reply) => reply.enhancedCode === '5.4.5' || /daily user sending limit/i.test(reply.text),
		hint: `Google allows 2,000 messages a day from one account, and this one has reached it. The limit frees itself within 24 hours: replies wait and are tried again every hour. ${LATER}`
	},
	{
		// Microsoft 365: `432 4.3.2 Concurrent connections limit exceeded`, `4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded`.
		kind: 'concurrency',
		matches: (reply) => reply.code === 432 || /concurrent connections limit|sender thread limit/i.test(reply.text),
		hint: `The provider allows only a few connections at once from one mailbox (Microsoft 365 allows 3), and this one had more open. ${LATER}`
	},
	{
		// Microsoft 365: `451 4.7.500 Server busy. Please try again later`.
		kind: 'rate',
		matches: (reply) => reply.enhancedCode === '4.7.500',
		hint: `Microsoft 365 is asking this mailbox to slow down (it allows 30 messages a minute from one mailbox). ${LATER}`
	},
	{
		// Google: `452 4.5.3 Your message has too many recipients`.
		kind: 'rate',
		matches: (reply) => reply.enhancedCode === '4.5.3' || /too many recipients/i.test(reply.text),
		hint: `The provider refused more recipients for now (Google allows 100 a message and limits recipients a day). ${LATER}`
	},
	{
		// Google: `450 4.2.1` (the account or recipient is receiving or sending too fast).
		kind: 'rate',
		matches: (reply) => reply.enhancedCode === '4.2.1' && reply.code >= 400 && reply.code < 500,
		hint: `The provider is limiting how fast this mailbox sends. ${LATER}`
	},
	{
		// Gmail `421 4.7.0 Try again later`, `451 4.7.0 … Submission rate limit exceeded`, Yahoo `4.7.0 [TS03]`.
		kind: 'rate',
		matches: (reply) =>
			reply.code >= 400 && reply.code < 500 && (reply.enhancedCode === '4.7.0' || RATE_WORDS.test(reply.text)) && !NOT_A_LIMIT_WORDS.test(reply.text),
		hint: `The provider is limiting how fast this mailbox sends (Microsoft 365 allows 30 messages a minute from one mailbox). ${LATER}`
	},
	{
		// A quota or rate in words, whatever the code (a 5xx from a server that means "later").
		kind: 'rate',
		matches: (reply) => reply.code >= 400 && RATE_WORDS.test(reply.text) && !NOT_A_LIMIT_WORDS.test(reply.text),
		hint: `The provider is limiting how much this mailbox sends. ${LATER}`
	}
];

export interface LimitVerdict {
	limit: ProviderLimit;
	hint: string;
}

/** The provider limit a reply announces, with how long to wait (SPEC §15), or null when it is none. */
export function limitOfReply(reply: LimitReply): LimitVerdict | null {
	if (reply.code < 400) return null;
	const answer = LIMIT_ANSWERS.find((candidate) => candidate.matches(reply));
	if (!answer) return null;
	// A rate whose words say the day is a daily quota.
	const kind = answer.kind === 'rate' && DAILY_WORDS.test(words(reply)) ? 'daily' : answer.kind;
	return { limit: { kind, retryAfterSeconds: LIMIT_WAIT_SECONDS[kind] }, hint: answer.hint };
}
