/**
 * Handing job ids to a queue (replies and webhooks alike). The queue carries ids only; the
 * rows are in D1, so a failed send is logged, not thrown: the sweep (worker/jobs/sweep.ts)
 * finds what waited too long and enqueues it again.
 */

/** What every job queue carries: the id of its D1 row. */
export interface JobMessage {
	id: string;
}

/**
 * Cloudflare Queues delays a message at most 12 hours (43,200 seconds: "Per-message delay" in
 * developers.cloudflare.com/queues/platform/limits/, and `delaySeconds` in
 * /queues/configuration/batching-retries/#delay-messages); a longer delay is refused. A longer
 * wait is made of hops: the early message finds its row not yet due and waits again.
 */
export const MAX_QUEUE_DELAY_SECONDS = 12 * 3600;

/** Whole seconds from `now` until `at` (never early), within the Queues cap; 0 when it is due. */
export function queueDelaySeconds(at: Date, now: Date): number {
	return Math.min(MAX_QUEUE_DELAY_SECONDS, Math.max(0, Math.ceil((at.getTime() - now.getTime()) / 1000)));
}

/** Sends the ids (with a delay, clamped to the cap); returns how many the queue took (all or none). */
export async function enqueue(queue: Queue, ids: readonly string[], options: { delaySeconds?: number } = {}): Promise<number> {
	if (ids.length === 0) return 0;
	const delaySeconds = Math.min(MAX_QUEUE_DELAY_SECONDS, Math.max(0, Math.round(options.delaySeconds ?? 0)));
	try {
		await queue.sendBatch(ids.map((id) => ({ body: { id } satisfies JobMessage, ...(delaySeconds > 0 ? { delaySeconds } : {}) })));
		return ids.length;
	} catch (error) {
		console.error('enqueue_failed', { ids: ids.slice(0, 5), count: ids.length, error: error instanceof Error ? error.message : String(error) });
		return 0;
	}
}
