/**
 * mergeNewest (src/lib/offline/merge-newest.ts, SPEC §16 "Lists stay live"): the first page read
 * again, merged with what a list shows, without losing "Load more" or an item acted on here.
 */
import { describe, expect, it } from 'vitest';
import { mergeNewest } from '../../../src/lib/offline/merge-newest';

type Item = { id: string; at: string; v?: number };
const item = (id: string, minute: number, v = 1): Item => ({ id, at: `2026-12-01T10:${String(minute).padStart(2, '0')}:00Z`, v });
const timeOf = (entry: Item) => entry.at;
const ids = (items: Item[]) => items.map((entry) => entry.id);

describe('mergeNewest', () => {
	it('puts new items on top and shown ones in their newer copy', () => {
		const shown = [item('b', 2), item('a', 1)];
		const merged = mergeNewest(shown, null, { items: [item('c', 3), item('b', 2, 2), item('a', 1)], nextCursor: null }, { timeOf });
		expect(ids(merged.items)).toEqual(['c', 'b', 'a']);
		expect(merged.items[1]?.v).toBe(2);
		expect(merged.nextCursor).toBeNull();
	});

	it('keeps items loaded from further pages, and the cursor after them', () => {
		// Shown: a first page (d, c) and a second one loaded with "Load more" (b, a).
		const shown = [item('d', 4), item('c', 3), item('b', 2), item('a', 1)];
		const merged = mergeNewest(shown, null, { items: [item('e', 5), item('d', 4)], nextCursor: 'after-d' }, { timeOf });
		expect(ids(merged.items)).toEqual(['e', 'd', 'c', 'b', 'a']);
		// The shown list had reached its end (null): that stays, rather than the first page's cursor.
		expect(merged.nextCursor).toBeNull();
	});

	it('takes the page’s cursor when nothing older is shown', () => {
		const merged = mergeNewest([item('b', 2)], 'old', { items: [item('c', 3), item('b', 2)], nextCursor: 'after-b' }, { timeOf });
		expect(merged.nextCursor).toBe('after-b');
	});

	it('drops a shown item the page no longer has (it left the filter), unless it was acted on here', () => {
		const shown = [item('c', 3), item('b', 2), item('a', 1)];
		const page = { items: [item('c', 3), item('a', 1)], nextCursor: null };
		expect(ids(mergeNewest(shown, null, page, { timeOf }).items)).toEqual(['c', 'a']);
		expect(ids(mergeNewest(shown, null, page, { timeOf, keep: new Set(['b']) }).items)).toEqual(['c', 'b', 'a']);
	});

	it('orders items of the same time by id, newest first, so a re-read never reshuffles them', () => {
		const merged = mergeNewest([], null, { items: [item('x', 1), item('y', 1)], nextCursor: null }, { timeOf });
		expect(ids(merged.items)).toEqual(['y', 'x']);
	});
});
