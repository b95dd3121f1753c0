/**
 * Shapes of statement every table group writes: a conditional write that takes effect on one row
 * or none, and a list read whose filters become conditions only when given.
 */

/**
 * Runs a write meant to change exactly one row when its condition holds (a claim, a lease, a
 * version check, a state change): true when it took effect.
 */
export async function changedOne(db: D1Database, sql: string, ...values: unknown[]): Promise<boolean> {
	const result = await db
		.prepare(sql)
		.bind(...values)
		.run();
	return result.meta.changes === 1;
}

/**
 * A list's conditions with positional parameters (`?1`, `?2`, … numbered as they are added).
 * Only the filters given become conditions, so SQLite can pick the index that serves both the
 * filter and the page order; `?1 IS NULL OR …` would defeat every index.
 */
export function listFilter() {
	const conditions: string[] = [];
	const values: unknown[] = [];
	return {
		/** One condition; each `?` in it takes the next of `bound`. */
		where(sql: string, ...bound: unknown[]): void {
			conditions.push(sql.replace(/\?/g, () => `?${values.push(bound.shift())}`));
		},
		/** `select` with the conditions, newest first by `timeColumn` then id (the keyset order of api/paging.ts), one page. */
		newestFirst(select: string, timeColumn: string, limit: number): { sql: string; values: unknown[] } {
			const filter = conditions.length ? `WHERE ${conditions.join(' AND ')}` : '';
			return { sql: `${select} ${filter} ORDER BY ${timeColumn} DESC, id DESC LIMIT ?${values.push(limit)}`, values };
		}
	};
}
