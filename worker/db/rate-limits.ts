/** All SQL for the API's rate-limit counters (worker/api/rate-limit.ts, migration 0013). */

/**
 * Counts one request in `bucket`'s window starting at `windowStart`, unless `limit` requests
 * were already counted in it: one conditional upsert, so requests arriving together are each
 * counted once and never let through past the limit. A later window starts over at 1; a
 * request from an earlier window (another instance's clock a little behind) counts in the
 * newer one. Returns the statement: true when its result has a row (counted, let through).
 */
export function takeStatement(db: D1Database, bucket: string, windowStart: number, limit: number): D1PreparedStatement {
	return db
		.prepare(
			'INSERT INTO rate_limits (bucket, window_start, count) VALUES (?1, ?2, 1) ' +
				'ON CONFLICT (bucket) DO UPDATE SET ' +
				'count = CASE WHEN window_start < excluded.window_start THEN 1 ELSE count + 1 END, ' +
				'window_start = MAX(window_start, excluded.window_start) ' +
				'WHERE window_start < excluded.window_start OR count < ?3 ' +
				'RETURNING count'
		)
		.bind(bucket, windowStart, limit);
}

/** One take's figures: the counter, its window's start (ms) and the limit. */
export interface Take {
	bucket: string;
	windowStart: number;
	limit: number;
}

/**
 * SQL that is true exactly when `takeStatement` would count a request for every take (no
 * counter is at its limit in this window or a later one), its parameters numbered from `first`.
 * Another statement in the takes' batch (one transaction), run before them, is written only
 * when they count: a reply's row and its rate limits are one write (issue 22).
 */
export function underLimitsCondition(takes: readonly Take[], first: number): { sql: string; values: Array<string | number> } {
	const conditions = takes.map(
		(_, index) =>
			`NOT EXISTS (SELECT 1 FROM rate_limits WHERE bucket = ?${first + 3 * index} AND window_start >= ?${first + 3 * index + 1} AND count >= ?${first + 3 * index + 2})`
	);
	return { sql: conditions.join(' AND ') || '1', values: takes.flatMap((take) => [take.bucket, take.windowStart, take.limit]) };
}

/**
 * A request's takes, prepared to run in one batch, alone or behind a statement they admit
 * (`underLimitsCondition`): their statements, and `enforce`, which throws the caller's refusal
 * when a take's result (in the statements' order) did not count.
 */
export interface Admission {
	takes: readonly Take[];
	statements: D1PreparedStatement[];
	enforce(results: readonly D1Result[]): void;
}

/** For each take's result (run in one batch, one transaction): whether it counted the request. */
export function countedBy(results: readonly D1Result[]): boolean[] {
	return results.map((result) => result.results.length === 1);
}

/** Deletes counters whose last window started before `before` (ms): their keys or mailboxes went quiet or away. */
export async function deleteIdleRateLimits(db: D1Database, before: number): Promise<number> {
	const result = await db.prepare('DELETE FROM rate_limits WHERE window_start < ?1').bind(before).run();
	return result.meta.changes;
}
