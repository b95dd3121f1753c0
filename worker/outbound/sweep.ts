/**
 * The safety net under the queue (SPEC §10: a reply is never silently dropped). Every few
 * minutes: a `queued` message nobody took, a `deferred` one past its time (its delayed queue
 * message was lost), and a `sending` one whose Worker stopped mid-attempt are found and moved
 * on. The queue stays the fast path; this only catches what fell off it.
 */
import { findOutbound, findStranded, touchDue } from '../db/outbound';
import { recoverAbandoned, SENDING_LEASE_MS } from './consumer';
import { enqueue } from './create';

/** A queued message the consumer has not taken after this long was not delivered by the queue. */
export const QUEUED_GRACE_MS = 5 * 60_000;
/** A deferred message this far past its time lost its delayed queue message. */
export const DUE_GRACE_MS = 5 * 60_000;
/** At most this many per run (the cron runs every 5 minutes; the free plan allows 50 queries per invocation). */
const SWEEP_LIMIT = 20;

export async function sweepOutbound(env: Env, now: Date): Promise<{ enqueued: number; recovered: number }> {
	const at = now.getTime();
	const stranded = await findStranded(
		env.DB,
		{
			queued: new Date(at - QUEUED_GRACE_MS).toISOString(),
			due: new Date(at - DUE_GRACE_MS).toISOString(),
			sending: new Date(at - SENDING_LEASE_MS).toISOString()
		},
		SWEEP_LIMIT
	);
	let enqueued = 0;
	let recovered = 0;
	for (const item of stranded) {
		if (item.status === 'sending') {
			const outbound = await findOutbound(env.DB, item.id);
			if (outbound?.status === 'sending') {
				await recoverAbandoned(env, outbound, now);
				recovered++;
			}
			continue;
		}
		// Marked first, so the next sweep leaves it alone while this queue message is on its way.
		await touchDue(env.DB, item.id, new Date(at + QUEUED_GRACE_MS).toISOString());
		if (await enqueue(env, item.id)) enqueued++;
	}
	return { enqueued, recovered };
}
