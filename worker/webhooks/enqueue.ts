/** Hands recorded events to WEBHOOK_QUEUE (worker/jobs/enqueue.ts); a failed send is the sweep's to catch. */
import { enqueue } from '../jobs/enqueue';
import type { Services } from '../services';

export async function enqueueEvents(services: Pick<Services, 'queues'>, ids: readonly string[]): Promise<void> {
	await enqueue(services.queues.webhooks, ids);
}
