/** Hands recorded events to WEBHOOK_QUEUE (worker/jobs/enqueue.ts); a failed send is the sweep's to catch. */
import { enqueue } from '../jobs/enqueue';

export async function enqueueEvents(env: Pick<Env, 'WEBHOOK_QUEUE'>, ids: readonly string[]): Promise<void> {
	await enqueue(env.WEBHOOK_QUEUE, ids);
}
