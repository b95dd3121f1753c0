// The job skeleton shared by replies and webhooks (worker/jobs/): the retry tables as data, the
// 12-hour Queues delay cap, and claim → attempt → settle with a recording fake queue. Pure: no
// D1, no network.
import { describe, expect, it } from 'vitest';
import { consume, settle, type Job, type JobQueueMessage } from '../../worker/jobs/consume';
import { enqueue, MAX_QUEUE_DELAY_SECONDS, queueDelaySeconds } from '../../worker/jobs/enqueue';
import { decideSettlement, nextAttemptAt, REPLY_RETRY_DELAYS_SECONDS, WEBHOOK_RETRY_DELAYS_SECONDS, type Settlement } from '../../worker/jobs/schedule';
import { sweep } from '../../worker/jobs/sweep';

const START = new Date('2026-01-01T00:00:00Z');
const MINUTE = 60;
const HOUR = 3600;

describe('retry schedules', () => {
	it('keep the reply table: 1 min, 5 min, 15 min, 1 h, 3 h, 6 h, then failed', () => {
		expect(REPLY_RETRY_DELAYS_SECONDS).toEqual([MINUTE, 5 * MINUTE, 15 * MINUTE, HOUR, 3 * HOUR, 6 * HOUR]);
	});

	it("keep the webhook table: Standard Webhooks' 30 s, 2 min, 10 min, 30 min, 2 h, 6 h, 12 h, 24 h", () => {
		expect(WEBHOOK_RETRY_DELAYS_SECONDS).toEqual([30, 2 * MINUTE, 10 * MINUTE, 30 * MINUTE, 2 * HOUR, 6 * HOUR, 12 * HOUR, 24 * HOUR]);
	});

	const cases: Array<[string, readonly number[], number, number | null]> = [
		['reply, after the 1st attempt', REPLY_RETRY_DELAYS_SECONDS, 1, MINUTE],
		['reply, after the 4th', REPLY_RETRY_DELAYS_SECONDS, 4, HOUR],
		['reply, after the 6th (the last delay)', REPLY_RETRY_DELAYS_SECONDS, 6, 6 * HOUR],
		['reply, after the 7th: gives up', REPLY_RETRY_DELAYS_SECONDS, 7, null],
		['webhook, after the 1st', WEBHOOK_RETRY_DELAYS_SECONDS, 1, 30],
		['webhook, after the 8th (24 h)', WEBHOOK_RETRY_DELAYS_SECONDS, 8, 24 * HOUR],
		['webhook, after the 9th: gives up', WEBHOOK_RETRY_DELAYS_SECONDS, 9, null]
	];
	it.each(cases)('%s', (_, delays, attemptsSoFar, seconds) => {
		const at = nextAttemptAt(delays, attemptsSoFar, START);
		expect(at && (at.getTime() - START.getTime()) / 1000).toBe(seconds);
	});

	it('settle: success is done, permanent gives up at once, temporary retries until the table is used up', () => {
		const decide = (verdict: 'succeeded' | 'temporary' | 'permanent', attemptsSoFar: number): Settlement =>
			decideSettlement({ verdict, attemptsSoFar, startedAt: START, delays: REPLY_RETRY_DELAYS_SECONDS });
		expect(decide('succeeded', 3)).toEqual({ kind: 'done' });
		expect(decide('permanent', 1)).toEqual({ kind: 'give-up', reason: 'permanent', attempts: 1 });
		expect(decide('temporary', 2)).toEqual({ kind: 'retry', at: new Date(START.getTime() + 5 * MINUTE * 1000) });
		expect(decide('temporary', 7)).toEqual({ kind: 'give-up', reason: 'schedule-used-up', attempts: 7 });
	});
});

describe('the Queues delay cap', () => {
	const cases: Array<[string, number, number]> = [
		['due already', -5_000, 0],
		['due now', 0, 0],
		['half a second away: never early', 500, 1],
		['a minute away', 60_000, 60],
		['exactly 12 hours', 12 * HOUR * 1000, 12 * HOUR],
		['24 hours: the first 12-hour hop', 24 * HOUR * 1000, 12 * HOUR]
	];
	it.each(cases)('%s', (_, ms, seconds) => {
		expect(queueDelaySeconds(new Date(START.getTime() + ms), START)).toBe(seconds);
	});

	it('enqueue clamps a delay to 12 hours, leaves none out when there is none, and counts a failed send as none', async () => {
		const queue = recordingQueue();
		expect(MAX_QUEUE_DELAY_SECONDS).toBe(43_200);
		expect(await enqueue(queue, ['a', 'b'], { delaySeconds: 24 * HOUR })).toBe(2);
		expect(await enqueue(queue, ['c'])).toBe(1);
		expect(await enqueue(queue, [])).toBe(0);
		expect(queue.sent).toEqual([
			{ body: { id: 'a' }, delaySeconds: 12 * HOUR },
			{ body: { id: 'b' }, delaySeconds: 12 * HOUR },
			{ body: { id: 'c' } }
		]);
		const broken = { sendBatch: async () => Promise.reject(new Error('queue unavailable')) } as unknown as Queue;
		const errors: unknown[] = [];
		const log = console.error;
		console.error = (...args: unknown[]) => errors.push(args);
		try {
			expect(await enqueue(broken, ['d'])).toBe(0);
		} finally {
			console.error = log;
		}
		expect(errors).toHaveLength(1);
	});
});

describe('claim → attempt → settle', () => {
	interface Row {
		id: string;
		attempts: string[];
	}

	/** A job over an in-memory table: rows 'free' are claimable, others answer `unclaimed`. */
	function fakeJob(rows: Record<string, Row & { state: 'free' | 'busy' | 'done' }>, unclaimedRetryAt: Date | null = null) {
		const queue = recordingQueue();
		const recorded: Array<{ id: string; result: string; settlement: Settlement }> = [];
		const job: Job<Row, string> = {
			queue,
			retryDelays: [60, 120],
			now: () => START,
			async claim(id) {
				const row = rows[id];
				if (row?.state !== 'free') return null;
				row.state = 'busy';
				return row;
			},
			whenUnclaimed: async (id) => (rows[id]?.state === 'busy' ? unclaimedRetryAt : null),
			verdict: (result) => (result === 'ok' ? 'succeeded' : result === 'later' ? 'temporary' : 'permanent'),
			async record(row, result, settlement) {
				recorded.push({ id: row.id, result, settlement });
			}
		};
		return { job, queue, recorded };
	}

	function message(id: unknown) {
		const answer: { acked: boolean; retry?: QueueRetryOptions } = { acked: false };
		const queued: JobQueueMessage = {
			body: { id } as { id: string },
			ack: () => (answer.acked = true),
			retry: (options?: QueueRetryOptions) => (answer.retry = options ?? {})
		};
		return { queued, answer };
	}

	it('settles each claimed row by its verdict and answers every message once', async () => {
		const rows = {
			ok: { id: 'ok', attempts: [], state: 'free' as const },
			later: { id: 'later', attempts: ['earlier'], state: 'free' as const },
			last: { id: 'last', attempts: ['1', '2'], state: 'free' as const },
			never: { id: 'never', attempts: [], state: 'free' as const },
			done: { id: 'done', attempts: [], state: 'done' as const }
		};
		const { job, queue, recorded } = fakeJob(rows);
		const messages = ['ok', 'later', 'last', 'never', 'done', 'unknown'].map(message);
		const bad = message(42);
		await consume([...messages.map((m) => m.queued), bad.queued], job, (claimed) =>
			Promise.all(claimed.map((item) => settle(job, item, item.row.id === 'ok' ? 'ok' : item.row.id === 'never' ? 'no' : 'later', START)))
		);
		expect(recorded).toEqual([
			{ id: 'ok', result: 'ok', settlement: { kind: 'done' } },
			{ id: 'later', result: 'later', settlement: { kind: 'retry', at: new Date(START.getTime() + 120_000) } },
			{ id: 'last', result: 'later', settlement: { kind: 'give-up', reason: 'schedule-used-up', attempts: 3 } },
			{ id: 'never', result: 'no', settlement: { kind: 'give-up', reason: 'permanent', attempts: 1 } }
		]);
		// The retry goes back on the queue with its delay; the message that carried it is acked.
		expect(queue.sent).toEqual([{ body: { id: 'later' }, delaySeconds: 120 }]);
		for (const { answer } of [...messages, bad]) expect(answer).toEqual({ acked: true });
	});

	it('retries a message whose row another consumer holds, at the time the job names, within the cap', async () => {
		const rows = { busy: { id: 'busy', attempts: [], state: 'busy' as const } };
		const { job } = fakeJob(rows, new Date(START.getTime() + 30 * HOUR * 1000));
		const busy = message('busy');
		await consume([busy.queued], job, async (claimed) => expect(claimed).toEqual([]));
		expect(busy.answer).toEqual({ acked: false, retry: { delaySeconds: 12 * HOUR } });
	});
});

describe('the sweep', () => {
	it('requeues what the queue lost, recovers abandoned attempts, and marks before it sends', async () => {
		const queue = recordingQueue();
		const marked: string[] = [];
		const recovered: string[] = [];
		const count = await sweep(
			{
				queue,
				findStranded: async (_, limit) => {
					expect(limit).toBe(20);
					return [
						{ id: 'lost', abandoned: false },
						{ id: 'stopped', abandoned: true },
						{ id: 'gone', abandoned: true }
					];
				},
				markRequeued: async (id) => {
					expect(queue.sent).toEqual([]);
					marked.push(id);
				},
				recoverAbandoned: async (id) => {
					recovered.push(id);
					return id === 'stopped';
				}
			},
			START
		);
		expect(count).toEqual({ enqueued: 1, recovered: 1 });
		expect(marked).toEqual(['lost']);
		expect(recovered).toEqual(['stopped', 'gone']);
		expect(queue.sent).toEqual([{ body: { id: 'lost' } }]);
	});

	it('without a recovery of its own, requeues an abandoned row like a lost one', async () => {
		const queue = recordingQueue();
		const count = await sweep({ queue, findStranded: async () => [{ id: 'stopped', abandoned: true }], markRequeued: async () => {} }, START);
		expect(count).toEqual({ enqueued: 1, recovered: 1 });
		expect(queue.sent).toEqual([{ body: { id: 'stopped' } }]);
	});
});

/** A queue that records what it was sent (sendBatch, as worker/jobs/enqueue.ts sends). */
function recordingQueue() {
	const sent: unknown[] = [];
	const queue = {
		sent,
		async sendBatch(messages: Iterable<unknown>) {
			sent.push(...messages);
		}
	};
	return queue as unknown as Queue & { sent: unknown[] };
}
