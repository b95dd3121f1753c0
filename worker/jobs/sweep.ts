/**
 * The safety net under a job queue (SPEC §10 and §11: nothing recorded is silently dropped),
 * run by the 5-minute cron for each job: rows waiting past their time (their queue message
 * never came, or its send failed) go back on the queue, and rows whose lease ran out mid-attempt
 * (the Worker stopped) are recovered. The queue stays the fast path; this only catches what
 * fell off it.
 */
import { enqueue } from './enqueue';

/** Rows looked at per job and run: the cron comes back in 5 minutes, and the free plan allows 50 D1 queries per invocation. */
export const SWEEP_LIMIT = 20;

/** A row the queue may have lost; `abandoned`: its attempt's lease ran out (the Worker stopped). */
export interface Stranded {
	id: string;
	abandoned: boolean;
}

export interface SweepJob {
	queue: Queue;
	findStranded(now: Date, limit: number): Promise<Stranded[]>;
	/** Marks a row as handed to the queue again, so the next sweep leaves it alone a while. */
	markRequeued(id: string, now: Date): Promise<void>;
	/** Ends an abandoned attempt (true when it did); without it, such a row is requeued like a lost one. */
	recoverAbandoned?(id: string, now: Date): Promise<boolean>;
}

export interface SweepCount {
	enqueued: number;
	recovered: number;
}

export async function sweep(job: SweepJob, now: Date): Promise<SweepCount> {
	const stranded = await job.findStranded(now, SWEEP_LIMIT);
	const lost: string[] = [];
	let recovered = 0;
	for (const { id, abandoned } of stranded) {
		if (abandoned && job.recoverAbandoned) {
			if (await job.recoverAbandoned(id, now)) recovered++;
			continue;
		}
		if (abandoned) recovered++;
		// Marked first, so the next sweep leaves it alone while this queue message is on its way.
		await job.markRequeued(id, now);
		lost.push(id);
	}
	return { enqueued: await enqueue(job.queue, lost), recovered };
}
