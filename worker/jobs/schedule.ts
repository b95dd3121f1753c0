/**
 * Retry schedules as data (STYLE §14): one named table of delays per job, and the one pure
 * rule that turns an attempt's verdict into what happens next (done, try again at a time, or
 * give up). The consumers (worker/jobs/consume.ts) only carry the decision out.
 */

/**
 * Replies (SPEC §10). RFC 5321 §4.5.4.1 asks senders to keep trying a temporary failure for
 * days; a help desk reply that arrives a day late is worse than one the admin is told about,
 * so Mailgate retries for about 10.5 hours, with the spacing Postfix and FreeScout use (quick
 * at first, then hourly), then gives up as `failed` and says why.
 */
export const REPLY_RETRY_DELAYS_SECONDS = [60, 5 * 60, 15 * 60, 60 * 60, 3 * 3600, 6 * 3600] as const;

/**
 * Webhooks (SPEC §11): Standard Webhooks' recommended schedule (and Svix's, which wrote it):
 * quick retries for a blip, then hours for a desk that is down, about two days in all; then
 * the delivery is `failed` and waits for the admin's Resend.
 */
export const WEBHOOK_RETRY_DELAYS_SECONDS = [30, 2 * 60, 10 * 60, 30 * 60, 2 * 3600, 6 * 3600, 12 * 3600, 24 * 3600] as const;

/** Seconds to wait after the 1st, 2nd, … failed attempt; after the last, the job gives up. */
export type RetryDelays = readonly number[];

/**
 * After `attemptsSoFar` failed attempts (this one included): when to try next, counted from
 * when this attempt started, or null when the table is used up.
 */
export function nextAttemptAt(delays: RetryDelays, attemptsSoFar: number, startedAt: Date): Date | null {
	const delay = delays[attemptsSoFar - 1];
	return delay === undefined ? null : new Date(startedAt.getTime() + delay * 1000);
}

/** How an attempt ended, as the schedule sees it (each job decides temporary versus permanent). */
export type AttemptVerdict = 'succeeded' | 'temporary' | 'permanent';

/** What settling an attempt does: the row's next state, and the queue's. */
export type Settlement =
	| { kind: 'done' }
	| { kind: 'retry'; at: Date }
	| { kind: 'give-up'; reason: 'permanent' | 'schedule-used-up'; attempts: number };

/** The one rule from an attempt's verdict to its settlement. */
export function decideSettlement(input: { verdict: AttemptVerdict; attemptsSoFar: number; startedAt: Date; delays: RetryDelays; notBefore?: Date | null }): Settlement {
	const { verdict, attemptsSoFar, notBefore } = input;
	if (verdict === 'succeeded') return { kind: 'done' };
	if (verdict === 'permanent') return { kind: 'give-up', reason: 'permanent', attempts: attemptsSoFar };
	const at = nextAttemptAt(input.delays, attemptsSoFar, input.startedAt);
	if (!at) return { kind: 'give-up', reason: 'schedule-used-up', attempts: attemptsSoFar };
	// SPEC §14: a provider's Retry-After is honoured: never earlier than it asked, later if the table says so.
	return { kind: 'retry', at: notBefore && notBefore > at ? notBefore : at };
}
