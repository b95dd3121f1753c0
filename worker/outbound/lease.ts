/**
 * A reply's `sending` lease (SPEC §10): how long one attempt may hold its row, and what becomes
 * of a row whose Worker stopped mid-attempt. Never guess: once the data went out the message
 * may have arrived and is never sent again by itself; before that, it is queued and sent again.
 * A redelivered queue message (outbound/consumer.ts) and the sweep (outbound/sweep.ts) both
 * recover through here.
 */
import { findOutbound, type StoredOutbound } from '../db/outbound';
import { enqueue } from '../jobs/enqueue';
import { longestAttemptMs, QUEUE_TIMEOUTS } from '../send/timeouts';
import { finishAttempt } from './status';
import type { Services } from '../services';

/**
 * How long one message may stay `sending` before it counts as abandoned (the Worker stopped
 * mid-attempt): longer than the slowest attempt (login budget, the replies, the data).
 */
export const SENDING_LEASE_MS = longestAttemptMs(QUEUE_TIMEOUTS) + 60_000;

export const mayHaveArrivedHint = () =>
	'The message data went out, but the server\'s answer never came (the connection dropped or timed out). It may or may not have been delivered, so it is not sent again by itself: check the recipient\'s mailbox or the Sent folder of the account, and use Retry only if it did not arrive.';

/**
 * A reply's queue message whose row could not be claimed: already sent, failed or bounced (a
 * redelivery): done (null). `sending`: another consumer holds it, so look again once its lease
 * is over; past the lease its Worker stopped, and it is recovered now.
 */
export async function lookAgainAt(services: Pick<Services, 'db' | 'queues'>, id: string, at: Date): Promise<Date | null> {
	const outbound = await findOutbound(services.db, id);
	if (!outbound || outbound.status !== 'sending') return null;
	const leaseEnds = (outbound.claimedAt ? Date.parse(outbound.claimedAt) : 0) + SENDING_LEASE_MS;
	if (at.getTime() < leaseEnds) return new Date(leaseEnds + 5_000);
	await recoverAbandoned(services, outbound, at);
	return null;
}

/** A `sending` row whose Worker stopped: data out, it may have arrived (failed, said so); else queued again. */
export async function recoverAbandoned(services: Pick<Services, 'db' | 'queues'>, outbound: StoredOutbound, at: Date): Promise<void> {
	if (outbound.dataStartedAt) {
		await finishAttempt(services, outbound, {
			status: 'failed',
			attempt: {
				at: outbound.dataStartedAt,
				ok: false,
				stage: 'data',
				category: 'timeout',
				hint: mayHaveArrivedHint(),
				durationMs: at.getTime() - Date.parse(outbound.claimedAt ?? outbound.dataStartedAt),
				mayHaveArrived: true
			}
		});
		return;
	}
	await finishAttempt(services, outbound, { status: 'queued', attempt: null });
	await enqueue(services.queues.replies, [outbound.id]);
}
