/** SPEC §5.7: the email log keeps 30 days; the scheduled job deletes older rows in batches. */
import { purgeMessagesBefore } from '../db/messages';

export const RETENTION_DAYS = 30;
/** Rows per DELETE: small enough to stay far below D1's per-query limits and time. */
export const PURGE_BATCH = 500;
/** The free plan allows 50 queries per invocation; leave room for everything else. */
export const MAX_PURGE_BATCHES = 40;

export async function purgeOldMessages(db: D1Database, now: Date): Promise<number> {
	const before = new Date(now.getTime() - RETENTION_DAYS * 24 * 60 * 60 * 1000).toISOString();
	let total = 0;
	for (let batch = 0; batch < MAX_PURGE_BATCHES; batch++) {
		const deleted = await purgeMessagesBefore(db, before, PURGE_BATCH);
		total += deleted;
		if (deleted < PURGE_BATCH) break;
	}
	return total;
}
