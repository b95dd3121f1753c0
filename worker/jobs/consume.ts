/**
 * The queue consumers' skeleton, the same for replies and webhooks: claim → attempt → settle.
 * Each queue message carries a row's id; the row is claimed in D1 (a lease, so a redelivered
 * message never repeats an attempt that is done or under way), the job attempts what it
 * claimed, and `settle` ends each attempt. A queue message is acked or retried in `answer`
 * only. Each job supplies its D1 claim and record, its verdict rule, its attempt and its
 * retry table (worker/jobs/schedule.ts).
 */
import { enqueue, queueDelaySeconds, type JobMessage } from './enqueue';
import { decideSettlement, type AttemptVerdict, type RetryDelays, type Settlement } from './schedule';

/** What a consumer uses of a queue message (tests hand in their own). */
export type JobQueueMessage = Pick<Message<JobMessage>, 'body' | 'ack' | 'retry'>;

/** A row this consumer claimed, with the queue message that brought it. */
export interface Claimed<Row> {
	message: JobQueueMessage;
	row: Row;
}

export interface Job<Row extends { id: string; attempts: readonly unknown[] }, Result> {
	/** The queue this job consumes; a retry goes back on it with its delay. */
	queue: Queue;
	/** The job's retry schedule (worker/jobs/schedule.ts). */
	retryDelays: RetryDelays;
	now: () => Date;
	/** Takes the row for one attempt, or null when it is not this consumer's to try now. */
	claim(id: string, at: Date): Promise<Row | null>;
	/** A row not claimed: null when nothing is left to do (ack), or when to look at it again (retry). */
	whenUnclaimed(id: string, at: Date): Promise<Date | null>;
	/** Succeeded, or failed temporarily or permanently: the job's own rule. */
	verdict(result: Result): AttemptVerdict;
	/** The earliest a retry may be made (the other side's Retry-After), or null. */
	notBefore?(result: Result, startedAt: Date): Date | null;
	/** Writes the attempt and the row's new state to D1, before the queue hears of it. */
	record(row: Row, result: Result, settlement: Settlement, startedAt: Date): Promise<void>;
	/** How many of the row's past attempts count against the retry table (default: all; SPEC §15: not a provider's limit answers). */
	attemptsCounted?(row: Row, at: Date): number;
	/** Puts a claimed row back untried, to be taken again at `at` (`hold`); no attempt is recorded. */
	putBack?(row: Row, at: Date): Promise<void>;
}

/**
 * Claims the batch's rows, answers the messages whose row is not this consumer's, and hands
 * the claimed ones to `attempt` (which settles each; grouping and concurrency are the job's).
 */
export async function consume<Row extends { id: string; attempts: readonly unknown[] }, Result>(
	messages: readonly JobQueueMessage[],
	job: Job<Row, Result>,
	attempt: (claimed: Array<Claimed<Row>>) => Promise<unknown>
): Promise<void> {
	const claims = await Promise.all(
		messages.map(async (message): Promise<Claimed<Row> | null> => {
			const id = typeof message.body?.id === 'string' ? message.body.id : null;
			const row = id ? await job.claim(id, job.now()) : null;
			if (row) return { message, row };
			const at = job.now();
			// No id: not one of ours, nothing to do.
			answer(message, id ? await job.whenUnclaimed(id, at) : null, at);
			return null;
		})
	);
	await attempt(claims.filter((claim) => claim !== null));
}

/**
 * The one place an attempt ends: the schedule decides (done, retry at a time, give up), the
 * job records it in D1, a retry goes back on the queue with its delay (a lost send is the
 * sweep's), then the queue message is acked.
 */
export async function settle<Row extends { id: string; attempts: readonly unknown[] }, Result>(
	job: Job<Row, Result>,
	claimed: Claimed<Row>,
	result: Result,
	startedAt: Date
): Promise<void> {
	const settlement = decideSettlement({
		verdict: job.verdict(result),
		attemptsSoFar: (job.attemptsCounted?.(claimed.row, startedAt) ?? claimed.row.attempts.length) + 1,
		startedAt,
		delays: job.retryDelays,
		notBefore: job.notBefore?.(result, startedAt) ?? null
	});
	await job.record(claimed.row, result, settlement, startedAt);
	const now = job.now();
	if (settlement.kind === 'retry') await enqueue(job.queue, [claimed.row.id], { delaySeconds: queueDelaySeconds(settlement.at, now) });
	answer(claimed.message, null, now);
}

/**
 * A claimed row held back untried (SPEC §15: its mailbox has no room for it now): the job puts
 * it back with no attempt recorded, a new queue message brings it back at `at`, and this one is
 * acked. A new message rather than `retry`: retries count against the queue's max_retries, and
 * a reply may be held many times in a busy hour. A lost send is the sweep's, as for a retry.
 */
export async function hold<Row extends { id: string; attempts: readonly unknown[] }, Result>(job: Job<Row, Result>, claimed: Claimed<Row>, at: Date): Promise<void> {
	if (!job.putBack) throw new Error('This job cannot hold a row back');
	await job.putBack(claimed.row, at);
	const now = job.now();
	await enqueue(job.queue, [claimed.row.id], { delaySeconds: queueDelaySeconds(at, now) });
	answer(claimed.message, null, now);
}

/** Acks a message, or retries it when its row is to be looked at again (within the Queues delay cap). */
function answer(message: JobQueueMessage, lookAgainAt: Date | null, now: Date): void {
	if (lookAgainAt) message.retry({ delaySeconds: queueDelaySeconds(lookAgainAt, now) });
	else message.ack();
}
