/**
 * When a reply is tried again (SPEC §10), as data: the delays between attempts. RFC 5321
 * §4.5.4.1 asks senders to keep trying a temporary failure for days; a help desk reply that arrives a day late is worse than
 * one the admin is told about, so Mailgate retries for about 10.5 hours (the table below, which
 * follows the spacing Postfix and FreeScout use: quick at first, then hourly), then gives up as
 * `failed` and says why. Which failures are temporary is decided with the attempt (smtp/classify.ts
 * isTemporary), which carries it as `temporary`.
 */

/** Seconds to wait after the 1st, 2nd, … temporary failure; after the last, the message fails. */
export const RETRY_DELAYS_SECONDS = [60, 5 * 60, 15 * 60, 60 * 60, 3 * 60 * 60, 6 * 60 * 60] as const;

/**
 * After `attemptsSoFar` attempts (this one included) failed temporarily: when to try next, or
 * null when the table is used up.
 */
export function nextAttemptAt(attemptsSoFar: number, now: Date): Date | null {
	const delay = RETRY_DELAYS_SECONDS[attemptsSoFar - 1];
	return delay === undefined ? null : new Date(now.getTime() + delay * 1000);
}
