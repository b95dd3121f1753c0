/**
 * The email log as last loaded on this device, so that it can be read offline (SPEC §6): the
 * first page of each filter combination, with the time it was loaded.
 *
 * It lives in its own IndexedDB database rather than as a store of `mailgate` (db.ts): it is a
 * disposable copy of server data, and a version bump of the drafts database would wait on every
 * tab still running an older app version, which holds `mailgate` open with no `versionchange`
 * handler. Here nothing can block the drafts, and the copy can be dropped wholesale.
 */
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import { filterQuery } from '../api';
import { messageItemSchema, type MessageFilters, type MessageItem } from '../schema/message';
import { z } from 'zod';

/**
 * How many filter combinations are kept: enough for the views an admin switches between (each
 * mailbox, its rejections, a few searches) while the whole copy stays a few megabytes at most
 * (20 first pages of 50 list items).
 */
export const MAX_CACHED_QUERIES = 20;

export interface CachedLog {
	/** The normalised filter query (see `logCacheKey`). */
	key: string;
	items: MessageItem[];
	/** Whether the server had more than the first page when it was loaded. */
	hasMore: boolean;
	loadedAt: string;
}

interface LogCacheDB extends DBSchema {
	pages: { key: string; value: CachedLog; indexes: { byLoadedAt: string } };
}

const NAME = 'mailgate-log';
const VERSION = 1;

let opening: Promise<IDBPDatabase<LogCacheDB>> | null = null;

function open(): Promise<IDBPDatabase<LogCacheDB>> {
	opening ??= openDB<LogCacheDB>(NAME, VERSION, {
		upgrade(db) {
			const pages = db.createObjectStore('pages', { keyPath: 'key' });
			pages.createIndex('byLoadedAt', 'loadedAt');
		},
		// A later version of this cache is opening in another tab: let it, and reopen next time.
		blocking() {
			void opening?.then((db) => db.close());
			opening = null;
		}
	}).catch((error: unknown) => {
		opening = null;
		throw error;
	});
	return opening;
}

/** The same search always gives the same key, whatever order or spacing it was typed in. */
export function logCacheKey(filters: MessageFilters): string {
	const { mailboxId, verdict, from, messageId, since, until } = filters;
	return (
		filterQuery({
			mailboxId,
			verdict,
			// Sender matching ignores case, and a Message-ID is found with or without its brackets.
			from: from?.trim().toLowerCase(),
			messageId: messageId?.trim().replace(/^<|>$/g, ''),
			since,
			until
		}) || '?'
	);
}

const cachedItems = z.array(messageItemSchema);

/** The cached first page for `filters`, or null (never cached, or from an app version whose items no longer parse). */
export async function readCachedLog(filters: MessageFilters): Promise<CachedLog | null> {
	const cached = await (await open()).get('pages', logCacheKey(filters));
	if (!cached) return null;
	const items = cachedItems.safeParse(cached.items);
	return items.success ? { ...cached, items: items.data } : null;
}

/** Keeps the first page for `filters`, dropping the oldest entries beyond MAX_CACHED_QUERIES. */
export async function cacheLog(
	filters: MessageFilters,
	page: { items: MessageItem[]; hasMore: boolean },
	loadedAt = new Date().toISOString()
): Promise<void> {
	const db = await open();
	const tx = db.transaction('pages', 'readwrite');
	await tx.store.put({ key: logCacheKey(filters), items: page.items, hasMore: page.hasMore, loadedAt });
	let excess = (await tx.store.count()) - MAX_CACHED_QUERIES;
	if (excess > 0) {
		let cursor = await tx.store.index('byLoadedAt').openCursor();
		while (cursor && excess > 0) {
			await cursor.delete();
			excess -= 1;
			cursor = await cursor.continue();
		}
	}
	await tx.done;
}

/** Forgets every cached page (on sign-out: the log names customers). */
export async function clearLogCache(): Promise<void> {
	await (await open()).clear('pages');
}
