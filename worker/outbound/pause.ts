/**
 * SPEC §15: a provider's limit answer pauses the mailbox until the provider's time, and its
 * other replies wait untried until then. The pause is the mailbox's, not the reply's: what
 * another invocation claims meanwhile waits too (outbound/consumer.ts).
 */
import { pauseMailbox, type StoredMailbox } from '../db/mailboxes';
import { waitAskedSeconds, type SendAttempt } from '../send/transport';

/** When a paused mailbox may send again, or null when it is not paused (a time past has simply passed). */
export function pausedUntil(mailbox: Pick<StoredMailbox, 'pause'>, now: Date): Date | null {
	return mailbox.pause && mailbox.pause.until > now.getTime() ? new Date(mailbox.pause.until) : null;
}

/**
 * Pauses the mailbox for a limit answer: until the provider's Retry-After, else the limit's own
 * wait (a minute, or an hour for a daily quota), from when the attempt started, the same time the
 * attempt's `nextAttemptAt` is no earlier than. The reason is the provider's words. The
 * sending test (with the saved settings) and the probe pause it too: the provider said the same.
 */
export async function pauseForLimit(
	db: D1Database,
	mailboxId: string,
	attempt: Pick<SendAttempt, 'retryAfterSeconds' | 'limit' | 'serverMessage' | 'hint'>,
	started: Date
): Promise<Date> {
	const seconds = waitAskedSeconds(attempt) ?? 0;
	const until = new Date(started.getTime() + seconds * 1000);
	await pauseMailbox(db, mailboxId, until.getTime(), attempt.serverMessage ?? attempt.hint);
	return until;
}
