/**
 * When a reply is tried again (SPEC §10), as data: the delays between attempts, and the one
 * function that decides temporary versus permanent. RFC 5321 §4.5.4.1 asks senders to keep
 * trying a temporary failure for days; a help desk reply that arrives a day late is worse than
 * one the admin is told about, so Mailgate retries for about 10.5 hours (the table below, which
 * follows the spacing Postfix and FreeScout use: quick at first, then hourly), then gives up as
 * `failed` and says why.
 */
import type { Failure, SmtpReply } from '../smtp/classify';
import { isRateLimit } from '../smtp/classify';

/** Seconds to wait after the 1st, 2nd, … temporary failure; after the last, the message fails. */
export const RETRY_DELAYS_SECONDS = [60, 5 * 60, 15 * 60, 60 * 60, 3 * 60 * 60, 6 * 60 * 60] as const;

/**
 * A temporary failure is worth trying again by itself: a 4xx reply (421 included), a timeout
 * before the message data went out, a refused or dropped connection, a provider's rate limit.
 * A 5xx reply, settings that cannot work and a message that may already have arrived are not.
 */
export function isTemporary(failure: Failure, options: { dataSent: boolean }): boolean {
	if (options.dataSent) return false;
	switch (failure.kind) {
		case 'timeout':
		case 'socket':
			return true;
		case 'reply':
			return isTemporaryReply(failure.reply);
		default:
			return false;
	}
}

export function isTemporaryReply(reply: SmtpReply): boolean {
	return (reply.code >= 400 && reply.code < 500) || isRateLimit(reply);
}

/**
 * After `attemptsSoFar` attempts (this one included) failed temporarily: when to try next, or
 * null when the table is used up.
 */
export function nextAttemptAt(attemptsSoFar: number, now: Date): Date | null {
	const delay = RETRY_DELAYS_SECONDS[attemptsSoFar - 1];
	return delay === undefined ? null : new Date(now.getTime() + delay * 1000);
}
