/**
 * Keyset pagination for every /api list (SPEC §7): newest first, 50 a page, and a cursor that
 * names the last item of the page, its time and its id (the lists' order, ties broken by id).
 * The cursor is opaque to clients; one this API did not give out is a field error on `cursor`
 * (422 in the SPEC §7 shape), never a 500 and never a page of something else.
 */
import { validationFailed } from './http';

/** Items on a page of any list. */
export const PAGE_SIZE = 50;

/** The last item of a page: its time (the list's order) and its id. */
export interface Keyset {
	at: string;
	id: string;
}

/**
 * Longest part of a cursor accepted: times are ISO 8601 (24-30 characters), ids UUIDs (36); the
 * list schemas cap the whole cursor at 200 characters too.
 */
const MAX_PART_LENGTH = 100;

export function encodeCursor(last: Keyset): string {
	return btoa(JSON.stringify([last.at, last.id]));
}

/** The keyset a cursor names; throws the SPEC §7 field error for anything else. */
export function decodeCursor(cursor: string): Keyset {
	let parts: unknown;
	try {
		parts = JSON.parse(atob(cursor));
	} catch {
		throw notOurs();
	}
	if (!Array.isArray(parts) || parts.length !== 2) throw notOurs();
	const [at, id] = parts as unknown[];
	if (!isPart(at) || !isPart(id) || Number.isNaN(Date.parse(at))) throw notOurs();
	return { at, id };
}

/** The keyset as the lists ordered by creation (replies, webhook deliveries) take it. */
export const createdAfter = ({ at, id }: Keyset) => ({ createdAt: at, id });
/** The keyset as the email log (ordered by arrival) takes it. */
export const receivedAfter = ({ at, id }: Keyset) => ({ receivedAt: at, id });

/**
 * One page of a list read with one row more than a page (`limit: PAGE_SIZE + 1`): the page, and
 * the cursor to the next one when that extra row shows there is more.
 */
export function pageOf<T, U>(rows: readonly T[], keyset: (row: T) => Keyset, toItem: (row: T) => U): { items: U[]; nextCursor: string | null } {
	const page = rows.slice(0, PAGE_SIZE);
	const last = page.at(-1);
	return { items: page.map(toItem), nextCursor: rows.length > PAGE_SIZE && last ? encodeCursor(keyset(last)) : null };
}

const isPart = (value: unknown): value is string => typeof value === 'string' && value.length > 0 && value.length <= MAX_PART_LENGTH;

const notOurs = () => validationFailed({ cursor: 'This cursor is not one this API gave out' });
