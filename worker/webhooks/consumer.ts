/**
 * The WEBHOOK_QUEUE consumer (SPEC §11, at least once), on the shared skeleton
 * (worker/jobs/consume.ts): each event claimed in D1 (a redelivered queue message never sends
 * one already delivered), attempted (worker/webhooks/attempt.ts), settled by the webhook retry
 * table. The events of a batch go out in parallel.
 */
import type { WebhookAttempt } from '../../src/lib/schema/webhook';
import { claimEvent, findEvent, finishEventAttempt, type StoredEvent } from '../db/webhooks';
import { consume, settle, type Job, type JobQueueMessage } from '../jobs/consume';
import { WEBHOOK_RETRY_DELAYS_SECONDS } from '../jobs/schedule';
import { attemptDelivery, delivered, type DeliveryDependencies } from './attempt';
import type { Services } from '../services';

function webhookJob(services: Pick<Services, 'db' | 'queues' | 'config'>, now: () => Date): Job<StoredEvent, WebhookAttempt> {
	return {
		queue: services.queues.webhooks,
		retryDelays: WEBHOOK_RETRY_DELAYS_SECONDS,
		now,
		claim: (id, at) => claimEvent(services.db, id, at),
		// Delivered or failed already: done. Pending but not yet due (an early or duplicate
		// message, or one hop of a wait past the Queues cap): look again at its time. Delivering:
		// another consumer has it, and the sweep recovers it if that consumer stopped.
		async whenUnclaimed(id, at) {
			const event = await findEvent(services.db, id);
			const due = event?.status === 'pending' && event.nextAttemptAt ? new Date(event.nextAttemptAt) : null;
			return due && due.getTime() > at.getTime() ? due : null;
		},
		verdict: (attempt) => (delivered(attempt) ? 'succeeded' : 'temporary'),
		record: (event, attempt, settlement) =>
			finishEventAttempt(services.db, event, {
				status: settlement.kind === 'done' ? 'delivered' : settlement.kind === 'retry' ? 'pending' : 'failed',
				attempt,
				nextAttemptAt: settlement.kind === 'retry' ? settlement.at.toISOString() : null
			})
	};
}

export async function consumeWebhooks(messages: readonly JobQueueMessage[], services: Pick<Services, 'db' | 'queues' | 'config'>, deps: DeliveryDependencies = {}): Promise<void> {
	const job = webhookJob(services, deps.now ?? (() => new Date()));
	await consume(messages, job, (claimed) =>
		Promise.all(
			claimed.map(async (item) => {
				const attempt = await attemptDelivery(services, item.row, deps);
				// The schedule counts from when the attempt started, not from when its answer was read.
				await settle(job, item, attempt, new Date(attempt.at));
			})
		)
	);
}
