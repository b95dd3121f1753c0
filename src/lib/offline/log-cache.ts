/**
 * The email log as last loaded on this device, so that it can be read offline (SPEC §6): the
 * first page of each filter combination, each message opened recently, and the mailbox health
 * counts of all mailboxes, with the time each was loaded.
 *
 * It lives in its own IndexedDB database rather than as a store of `mailgate` (db.ts): it is a
 * disposable copy of server data, and a version bump of the drafts database would wait on every
 * tab still running an older app version, which holds `mailgate` open with no `versionchange`
 * handler. Here nothing can block the drafts, and the copy can be dropped wholesale.
 */
import { openDB, type DBSchema, type IDBPDatabase, type IDBPObjectStore } from 'idb';
import { filterQuery } from '../api';
import {
	mailboxHealthSchema,
	messageDetailSchema,
	messageItemSchema,
	normaliseFilters,
	type MailboxHealth,
	type MessageDetail,
	type MessageFilters,
	type MessageItem
} from '../schema/message';
import { z } from 'zod';

/**
 * How many filter combinations are kept: enough for the views an admin switches between (each
 * mailbox, its rejections, a few searches) while the whole copy stays a few megabytes at most
 * (20 first pages of 50 list items).
 */
export const MAX_CACHED_QUERIES = 20;

/**
 * How many opened messages are kept (the most recently loaded): the ones an admin is working
 * through. Unlike a list item, a message can be large: the Worker keeps its text, HTML and
 * header block up to 250,000, 400,000 and 200,000 UTF-8 bytes (MAX_STORED_*_BYTES in
 * worker/inbound/handle-email.ts, so that the row fits D1's 1,000,000-byte limit). One detail
 * is thus under 1 MB as UTF-8, and under 2 MB as the two-byte strings a browser may store it
 * in: 30 are at worst about 60 MB, well within what current browsers let an origin store,
 * while ordinary mail of tens of kilobytes keeps the whole store near a megabyte. A write the
 * quota refuses fails alone; the message page goes on without it.
 */
export const MAX_CACHED_MESSAGES = 30;

export interface CachedLog {
	/** The normalised filter query (see `logCacheKey`). */
	key: string;
	items: MessageItem[];
	/** Whether the server had more than the first page when it was loaded. */
	hasMore: boolean;
	loadedAt: string;
}

export interface CachedMessage {
	/** The log id (`detail.id`). */
	id: string;
	detail: MessageDetail;
	loadedAt: string;
}

const HEALTH_KEY = 'all';

/**
 * The mailbox health of every mailbox (`GET /api/mailbox-health` with no filter), as one record:
 * the list and each mailbox page read their rows out of it, so a page never overwrites it with
 * fewer mailboxes than the list needs.
 */
export interface CachedHealth {
	key: typeof HEALTH_KEY;
	items: MailboxHealth[];
	loadedAt: string;
}

interface LogCacheDB extends DBSchema {
	pages: { key: string; value: CachedLog; indexes: { byLoadedAt: string } };
	messages: { key: string; value: CachedMessage; indexes: { byLoadedAt: string } };
	health: { key: string; value: CachedHealth };
}

const NAME = 'mailgate-log';
const VERSION = 1;

let opening: Promise<IDBPDatabase<LogCacheDB>> | null = null;

function open(): Promise<IDBPDatabase<LogCacheDB>> {
	opening ??= openDB<LogCacheDB>(NAME, VERSION, {
		upgrade(db) {
			const pages = db.createObjectStore('pages', { keyPath: 'key' });
			pages.createIndex('byLoadedAt', 'loadedAt');
			const messages = db.createObjectStore('messages', { keyPath: 'id' });
			messages.createIndex('byLoadedAt', 'loadedAt');
			db.createObjectStore('health', { keyPath: 'key' });
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
	const clean = normaliseFilters(filters);
	// Sender matching ignores case.
	return filterQuery({ ...clean, from: clean.from?.toLowerCase() }) || '?';
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
	await dropOldest(tx.store, MAX_CACHED_QUERIES);
	await tx.done;
}

/** The message with log id `id` as last opened here, or null (never opened, or it no longer parses). */
export async function readCachedMessage(id: string): Promise<{ detail: MessageDetail; loadedAt: string } | null> {
	const cached = await (await open()).get('messages', id);
	if (!cached) return null;
	const detail = messageDetailSchema.safeParse(cached.detail);
	return detail.success ? { detail: detail.data, loadedAt: cached.loadedAt } : null;
}

/** Keeps an opened message, dropping the oldest beyond MAX_CACHED_MESSAGES. */
export async function cacheMessage(detail: MessageDetail, loadedAt = new Date().toISOString()): Promise<void> {
	const db = await open();
	const tx = db.transaction('messages', 'readwrite');
	await tx.store.put({ id: detail.id, detail, loadedAt });
	await dropOldest(tx.store, MAX_CACHED_MESSAGES);
	await tx.done;
}

/** Keeps the health counts of all mailboxes (the whole answer of `api.mailboxHealth()`, never one mailbox's). */
export async function cacheHealth(items: MailboxHealth[], loadedAt = new Date().toISOString()): Promise<void> {
	await (await open()).put('health', { key: HEALTH_KEY, items, loadedAt });
}

const cachedHealth = z.object({ items: z.array(mailboxHealthSchema), loadedAt: z.string() });

/** The health counts of all mailboxes as last loaded here, or null (never loaded, or they no longer parse). */
export async function readCachedHealth(): Promise<{ items: MailboxHealth[]; loadedAt: string } | null> {
	const cached = cachedHealth.safeParse(await (await open()).get('health', HEALTH_KEY));
	return cached.success ? cached.data : null;
}

/** Deletes the entries loaded longest ago until at most `keep` remain. */
async function dropOldest<Name extends 'pages' | 'messages'>(
	store: IDBPObjectStore<LogCacheDB, [Name], Name, 'readwrite'>,
	keep: number
): Promise<void> {
	let excess = (await store.count()) - keep;
	if (excess <= 0) return;
	let cursor = await store.index('byLoadedAt').openCursor();
	while (cursor && excess > 0) {
		await cursor.delete();
		excess -= 1;
		cursor = await cursor.continue();
	}
}

/** Forgets every cached page, message and health count (on sign-out: the log and the rejection reasons name customers). */
export async function clearLogCache(): Promise<void> {
	const tx = (await open()).transaction(['pages', 'messages', 'health'], 'readwrite');
	await Promise.all([
		tx.objectStore('pages').clear(),
		tx.objectStore('messages').clear(),
		tx.objectStore('health').clear(),
		tx.done
	]);
}
