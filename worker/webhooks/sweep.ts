/**
 * The safety net under WEBHOOK_QUEUE (run by the 5-minute cron, worker/jobs/sweep.ts): an event
 * pending past its time lost its queue message; one `delivering` past the lease was abandoned
 * by a Worker that stopped. Both are made due and enqueued again: nothing recorded is lost.
 */
import { findStrandedEvents, touchEvent } from '../db/webhooks';
import { sweep, type SweepCount } from '../jobs/sweep';
import { WEBHOOK_TIMEOUT_MS } from './attempt';
import type { Services } from '../services';

/** A delivering event older than this was abandoned by a Worker that stopped (an attempt lasts at most the timeout). */
const DELIVERING_LEASE_MS = WEBHOOK_TIMEOUT_MS * 6;
/** A pending event this far past its time lost its queue message. */
const SWEEP_GRACE_MS = 2 * 60_000;

export function sweepWebhooks(services: Pick<Services, 'db' | 'queues'>, now: Date): Promise<SweepCount> {
	return sweep(
		{
			queue: services.queues.webhooks,
			async findStranded(at, limit) {
				const before = { due: new Date(at.getTime() - SWEEP_GRACE_MS).toISOString(), delivering: new Date(at.getTime() - DELIVERING_LEASE_MS).toISOString() };
				const stranded = await findStrandedEvents(services.db, before, limit);
				return stranded.map((event) => ({ id: event.id, abandoned: event.status === 'delivering' }));
			},
			// Pending and due now (so the claim takes it), and not looked at again for SWEEP_GRACE_MS.
			markRequeued: (id, at) => touchEvent(services.db, id, at.toISOString())
		},
		now
	);
}
