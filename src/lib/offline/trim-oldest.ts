/**
 * The offline copies keep a bounded number of entries: this deletes the ones loaded longest ago
 * (through a store's `byLoadedAt` index) until at most `keep` remain. Shared by the log's and
 * the integration pages' caches.
 */
interface LoadedAtCursor {
	delete(): Promise<void>;
	continue(): Promise<LoadedAtCursor | null>;
}

interface LoadedAtStore {
	count(): Promise<number>;
	index(name: 'byLoadedAt'): { openCursor(): Promise<LoadedAtCursor | null> };
}

export async function trimOldest(store: LoadedAtStore, keep: number): Promise<void> {
	let excess = (await store.count()) - keep;
	if (excess <= 0) return;
	let cursor = await store.index('byLoadedAt').openCursor();
	while (cursor && excess > 0) {
		await cursor.delete();
		excess -= 1;
		cursor = await cursor.continue();
	}
}
