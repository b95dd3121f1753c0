/**
 * The safety net under OUTBOUND_QUEUE (SPEC §10: a reply is never silently dropped), run by the
 * 5-minute cron on the shared sweep (worker/jobs/sweep.ts): a `queued` message nobody took, a
 * `deferred` one past its time (its delayed queue message was lost) go back on the queue; a
 * `sending` one whose Worker stopped mid-attempt is recovered (outbound/lease.ts).
 */
import { findOutbound, findStranded, touchDue } from '../db/outbound';
import { sweep, type SweepCount } from '../jobs/sweep';
import { recoverAbandoned, SENDING_LEASE_MS } from './lease';
import type { Services } from '../services';

/** A queued message the consumer has not taken after this long was not delivered by the queue. */
const QUEUED_GRACE_MS = 5 * 60_000;
/** A deferred message this far past its time lost its delayed queue message. */
const DUE_GRACE_MS = 5 * 60_000;

export function sweepOutbound(services: Pick<Services, 'db' | 'queues'>, now: Date): Promise<SweepCount> {
	return sweep(
		{
			queue: services.queues.replies,
			async findStranded(at, limit) {
				const before = {
					queued: new Date(at.getTime() - QUEUED_GRACE_MS).toISOString(),
					due: new Date(at.getTime() - DUE_GRACE_MS).toISOString(),
					sending: new Date(at.getTime() - SENDING_LEASE_MS).toISOString()
				};
				const stranded = await findStranded(services.db, before, limit);
				return stranded.map((item) => ({ id: item.id, abandoned: item.status === 'sending' }));
			},
			// Not looked at again by the sweep while this queue message is on its way.
			markRequeued: (id, at) => touchDue(services.db, id, new Date(at.getTime() + QUEUED_GRACE_MS).toISOString()),
			async recoverAbandoned(id, at) {
				const outbound = await findOutbound(services.db, id);
				if (outbound?.status !== 'sending') return false;
				await recoverAbandoned(services, outbound, at);
				return true;
			}
		},
		now
	);
}
