/**
 * SPEC §13: no arrival within PROBE_TIMEOUT_SECONDS ends the round trip as `fail`, with the
 * likely causes for where it stopped (timeout-patches.ts); the read paths and the 5-minute sweep
 * close such checks.
 */
import { closeExpiredCheck, listExpiredChecks } from '../db/flow-checks';
import { timeoutPatches } from './timeout-patches';

/** Closes every running check past its time (the read paths and the 5-minute sweep call this). */
export async function closeExpiredFlowChecks(db: D1Database, now: Date): Promise<number> {
	let closed = 0;
	for (const check of await listExpiredChecks(db, now.toISOString())) {
		if (await closeExpiredCheck(db, check.id, timeoutPatches(check))) closed++;
	}
	return closed;
}
