/**
 * SPEC §16 "Lists stay live": a list that stays open reads its first page again and merges it
 * with what it shows (ListView.readNewest), without clearing it or losing "Load more".
 */

/**
 * The newest page read again, merged with what a list shows: its items first (new ones on top,
 * shown ones in their newer copy); with them the items shown from further pages (older than
 * the page's last), so "Load more" keeps its place, and the ones in `keep` (acted on from this
 * page, such as a retried reply that left a status filter), newest first. Any other shown item
 * the page no longer has (it left the filter, or was deleted) goes.
 */
export function mergeNewest<Item extends { id: string }>(
	shown: readonly Item[],
	shownCursor: string | null,
	page: { items: Item[]; nextCursor: string | null },
	options: { keep?: ReadonlySet<string>; timeOf: (item: Item) => string }
): { items: Item[]; nextCursor: string | null } {
	const { keep = new Set<string>(), timeOf } = options;
	const last = page.items.at(-1);
	const fresh = new Set(page.items.map((item) => item.id));
	const newer = (a: Item, b: Item) => timeOf(a) > timeOf(b) || (timeOf(a) === timeOf(b) && a.id > b.id);
	const olderPages = shown.filter((item) => !fresh.has(item.id) && page.nextCursor !== null && last !== undefined && newer(last, item));
	const kept = shown.filter((item) => !fresh.has(item.id) && keep.has(item.id) && !olderPages.includes(item));
	const items = [...page.items, ...olderPages, ...kept].sort((a, b) => (newer(a, b) ? -1 : newer(b, a) ? 1 : 0));
	return { items, nextCursor: olderPages.length > 0 ? shownCursor : page.nextCursor };
}
