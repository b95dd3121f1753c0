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

/** Runs the takes in one batch (one transaction): for each, whether it was counted. */
export async function take(db: D1Database, statements: D1PreparedStatement[]): Promise<boolean[]> {
	if (statements.length === 0) return [];
	const results = await db.batch<{ count: number }>(statements);
	return results.map((result) => result.results.length === 1);
}

/** Deletes counters whose last window started before `before` (ms): their keys or mailboxes went quiet or away. */
export async function deleteIdleRateLimits(db: D1Database, before: number): Promise<number> {
	const result = await db.prepare('DELETE FROM rate_limits WHERE window_start < ?1').bind(before).run();
	return result.meta.changes;
}
