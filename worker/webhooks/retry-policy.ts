/**
 * When a webhook is tried again (SPEC §11), as data: Standard Webhooks' recommended schedule
 * (and Svix's, which wrote it): quick retries for a blip, then hours for a desk that is down,
 * about two days in all; then the delivery is `failed` and waits for the admin's Resend.
 */

/** Seconds to wait after the 1st, 2nd, … failed attempt. */
export const WEBHOOK_RETRY_DELAYS_SECONDS = [30, 2 * 60, 10 * 60, 30 * 60, 2 * 3600, 6 * 3600, 12 * 3600, 24 * 3600] as const;

/** SPEC §11: a 2xx within this long is success; anything else, or nothing, is a failed attempt. */
export const WEBHOOK_TIMEOUT_MS = 10_000;

/** How much of the help desk's answer is kept with each attempt (SPEC §11: the first 1 KB). */
export const WEBHOOK_RESPONSE_BYTES = 1024;

/** Cloudflare Queues delays a message at most 12 hours; a longer wait is made of two. */
export const MAX_QUEUE_DELAY_SECONDS = 12 * 3600;

/** After `attemptsSoFar` failed attempts: when to try next, or null when the schedule is used up. */
export function nextWebhookAttemptAt(attemptsSoFar: number, now: Date): Date | null {
	const delay = WEBHOOK_RETRY_DELAYS_SECONDS[attemptsSoFar - 1];
	return delay === undefined ? null : new Date(now.getTime() + delay * 1000);
}
