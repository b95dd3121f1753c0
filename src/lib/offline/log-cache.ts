/**
 * The email log and Sent mail as last loaded on this device, so that they can be read offline
 * (SPEC §6): the first page of each filter combination of either list, each message (inbound or
 * outbound) opened recently, the mailbox health counts of all mailboxes, and each mailbox's latest
 * mail flow check (SPEC §13), with the time each was loaded.
 *
 * It lives in its own IndexedDB database rather than as a store of `mailgate` (db.ts): it is a
 * disposable copy of server data, and a version bump of the drafts database would wait on every
 * tab still running an older app version, which holds `mailgate` open with no `versionchange`
 * handler. Here nothing can block the drafts, and the copy can be dropped wholesale.
 */
import { trimOldest } from './trim-oldest';
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
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
import {
	outboundDetailSchema,
	outboundItemSchema,
	type OutboundDetail,
	type OutboundFilters,
	type OutboundItem
} from '../schema/outbound';
import { flowCheckSchema, type FlowCheck } from '../schema/flow-check';
import { z } from 'zod';

/**
 * How many filter combinations are kept: enough for the views an admin switches between (each
 * mailbox, its rejections, a few searches) while the whole copy stays a few megabytes at most
 * (20 first pages of 50 list items). The log and Sent mail keep 20 each.
 */
export const MAX_CACHED_QUERIES = 20;

/**
 * How many opened messages are kept (the most recently loaded): the ones an admin is working
 * through. Unlike a list item, a message can be large: the Worker keeps its text, HTML and
 * header block up to 250,000, 400,000 and 200,000 UTF-8 bytes (MAX_STORED_*_BYTES in
 * worker/mail/byte-budgets.ts, so that the row fits D1's 1,000,000-byte limit). One detail
 * is thus under 1 MB as UTF-8, and under 2 MB as the two-byte strings a browser may store it
 * in: 30 are at worst about 60 MB, well within what current browsers let an origin store,
 * while ordinary mail of tens of kilobytes keeps the whole store near a megabyte. A write the
 * quota refuses fails alone; the message page goes on without it. Outbound messages opened on
 * Sent mail are kept the same way, 30 beside the 30 inbound ones (a reply is mostly text of a
 * few kilobytes; one a help desk sent with large HTML costs what an inbound one would).
 */
export const MAX_CACHED_MESSAGES = 30;

/** The first page of one list view (the log's or Sent mail's). */
export interface CachedPage<Item> {
	/** The normalised filter query (see `logCacheKey`, `sentCacheKey`). */
	key: string;
	items: Item[];
	/** Whether the server had more than the first page when it was loaded. */
	hasMore: boolean;
	loadedAt: string;
}
export type CachedLog = CachedPage<MessageItem>;

/** One opened message: `id` is the log id or the outbound id (`detail.id`). */
export interface CachedDetail<Detail> {
	id: string;
	detail: Detail;
	loadedAt: string;
}
export type CachedMessage = CachedDetail<MessageDetail>;

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

/** A mailbox's latest mail flow check as last seen here (one per mailbox, a few kilobytes). */
export interface CachedFlowCheck {
	mailboxId: string;
	check: FlowCheck;
	loadedAt: string;
}

interface LogCacheDB extends DBSchema {
	pages: { key: string; value: CachedLog; indexes: { byLoadedAt: string } };
	messages: { key: string; value: CachedMessage; indexes: { byLoadedAt: string } };
	health: { key: string; value: CachedHealth };
	/** Sent mail (SPEC §10), kept exactly like the log. */
	sentPages: { key: string; value: CachedPage<OutboundItem>; indexes: { byLoadedAt: string } };
	sentMessages: { key: string; value: CachedDetail<OutboundDetail>; indexes: { byLoadedAt: string } };
	flowChecks: { key: string; value: CachedFlowCheck };
}

type PageStore = 'pages' | 'sentPages';
type DetailStore = 'messages' | 'sentMessages';
const STORES = ['pages', 'messages', 'health', 'sentPages', 'sentMessages', 'flowChecks'] as const;

const NAME = 'mailgate-log';
/** 1: the log and health; 2: Sent mail; 3: mail flow checks. */
const VERSION = 3;

let opening: Promise<IDBPDatabase<LogCacheDB>> | null = null;

function open(): Promise<IDBPDatabase<LogCacheDB>> {
	opening ??= openDB<LogCacheDB>(NAME, VERSION, {
		upgrade(db, oldVersion) {
			if (oldVersion < 1) {
				db.createObjectStore('pages', { keyPath: 'key' }).createIndex('byLoadedAt', 'loadedAt');
				db.createObjectStore('messages', { keyPath: 'id' }).createIndex('byLoadedAt', 'loadedAt');
				db.createObjectStore('health', { keyPath: 'key' });
			}
			if (oldVersion < 2) {
				db.createObjectStore('sentPages', { keyPath: 'key' }).createIndex('byLoadedAt', 'loadedAt');
				db.createObjectStore('sentMessages', { keyPath: 'id' }).createIndex('byLoadedAt', 'loadedAt');
			}
			if (oldVersion < 3) db.createObjectStore('flowChecks', { keyPath: 'mailboxId' });
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

/** The same Sent mail view always gives the same key. */
export function sentCacheKey(filters: OutboundFilters): string {
	return filterQuery({ mailboxId: filters.mailboxId?.trim(), status: filters.status }) || '?';
}

/** The cached first page for `filters`, or null (never cached, or from an app version whose items no longer parse). */
export function readCachedLog(filters: MessageFilters): Promise<CachedLog | null> {
	return readPage('pages', logCacheKey(filters), messageItemSchema);
}

/** Keeps the first page for `filters`, dropping the oldest entries beyond MAX_CACHED_QUERIES. */
export function cacheLog(filters: MessageFilters, page: { items: MessageItem[]; hasMore: boolean }, loadedAt?: string): Promise<void> {
	return writePage('pages', logCacheKey(filters), page, loadedAt);
}

/** Sent mail's cached first page for `filters`, or null. */
export function readCachedSent(filters: OutboundFilters): Promise<CachedPage<OutboundItem> | null> {
	return readPage('sentPages', sentCacheKey(filters), outboundItemSchema);
}

/** Keeps Sent mail's first page for `filters`, dropping the oldest beyond MAX_CACHED_QUERIES. */
export function cacheSent(filters: OutboundFilters, page: { items: OutboundItem[]; hasMore: boolean }, loadedAt?: string): Promise<void> {
	return writePage('sentPages', sentCacheKey(filters), page, loadedAt);
}

/** The message with log id `id` as last opened here, or null (never opened, or it no longer parses). */
export function readCachedMessage(id: string): Promise<{ detail: MessageDetail; loadedAt: string } | null> {
	return readDetail('messages', id, messageDetailSchema);
}

/** Keeps an opened message, dropping the oldest beyond MAX_CACHED_MESSAGES. */
export function cacheMessage(detail: MessageDetail, loadedAt?: string): Promise<void> {
	return writeDetail('messages', detail, loadedAt);
}

/** The outbound message `id` as last opened here, or null. */
export function readCachedOutbound(id: string): Promise<{ detail: OutboundDetail; loadedAt: string } | null> {
	return readDetail('sentMessages', id, outboundDetailSchema);
}

/** Keeps an opened outbound message, dropping the oldest beyond MAX_CACHED_MESSAGES. */
export function cacheOutbound(detail: OutboundDetail, loadedAt?: string): Promise<void> {
	return writeDetail('sentMessages', detail, loadedAt);
}

async function readPage<Item>(store: PageStore, key: string, item: z.ZodType<Item>): Promise<CachedPage<Item> | null> {
	const cached = await (await open()).get(store, key);
	if (!cached) return null;
	const items = z.array(item).safeParse(cached.items);
	return items.success ? { ...cached, items: items.data } : null;
}

async function writePage<Item>(
	store: PageStore,
	key: string,
	page: { items: Item[]; hasMore: boolean },
	loadedAt = new Date().toISOString()
): Promise<void> {
	const tx = (await open()).transaction(store, 'readwrite');
	await tx.store.put({ key, items: page.items, hasMore: page.hasMore, loadedAt } as never);
	await trimOldest(tx.store, MAX_CACHED_QUERIES);
	await tx.done;
}

async function readDetail<Detail>(store: DetailStore, id: string, schema: z.ZodType<Detail>): Promise<{ detail: Detail; loadedAt: string } | null> {
	const cached = await (await open()).get(store, id);
	if (!cached) return null;
	const detail = schema.safeParse(cached.detail);
	return detail.success ? { detail: detail.data, loadedAt: cached.loadedAt } : null;
}

async function writeDetail(store: DetailStore, detail: { id: string }, loadedAt = new Date().toISOString()): Promise<void> {
	const tx = (await open()).transaction(store, 'readwrite');
	await tx.store.put({ id: detail.id, detail, loadedAt } as never);
	await trimOldest(tx.store, MAX_CACHED_MESSAGES);
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

/** Keeps `check` as its mailbox's latest (replacing the one before). */
export async function cacheFlowCheck(check: FlowCheck, loadedAt = new Date().toISOString()): Promise<void> {
	await (await open()).put('flowChecks', { mailboxId: check.mailboxId, check, loadedAt });
}

/** The mailbox's latest check as last seen here, or null (never seen, or it no longer parses). */
export async function readCachedFlowCheck(mailboxId: string): Promise<{ check: FlowCheck; loadedAt: string } | null> {
	const cached = await (await open()).get('flowChecks', mailboxId);
	const check = flowCheckSchema.safeParse(cached?.check);
	return cached && check.success ? { check: check.data, loadedAt: cached.loadedAt } : null;
}

/**
 * Forgets every cached page, message, health count and flow check, inbound and outbound (on
 * sign-out: the log, the rejection reasons and the replies name customers).
 */
export async function clearLogCache(): Promise<void> {
	const tx = (await open()).transaction([...STORES], 'readwrite');
	await Promise.all([...STORES.map((store) => tx.objectStore(store).clear()), tx.done]);
}
