/**
 * What an integration page last loaded from the server, so that it reads offline (SPEC §6): the
 * first page of the webhook's recent deliveries and the list of API keys (names and dates, never
 * a key), each with the time it was loaded. The webhook settings need no copy here: they are part
 * of the integration's record in the drafts database (db.ts).
 *
 * Like the log's copy (log-cache.ts) it lives in its own IndexedDB database: it is disposable
 * server data, dropped wholesale on sign-out (deliveries carry the help desk's answers), and its
 * version bumps never wait on tabs that hold the drafts open.
 */
import { trimOldest } from './trim-oldest';
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import { z } from 'zod';
import { apiKeySchema, webhookDeliverySchema, type ApiKey, type WebhookDelivery } from '../schema/webhook';
import type { CachedPage } from './log-cache';

/**
 * Integrations whose page copies are kept (the most recently loaded): more than a help desk has
 * channels. One copy is a first page of 50 deliveries, each with up to nine attempts of at most
 * 1 KB of answer: well under a megabyte.
 */
export const MAX_CACHED_INTEGRATIONS = 30;

export interface CachedKeys {
	/** The integration's id. */
	key: string;
	items: ApiKey[];
	loadedAt: string;
}

interface IntegrationCacheDB extends DBSchema {
	/** Keyed by integration id. */
	deliveries: { key: string; value: CachedPage<WebhookDelivery>; indexes: { byLoadedAt: string } };
	keys: { key: string; value: CachedKeys; indexes: { byLoadedAt: string } };
}

const STORES = ['deliveries', 'keys'] as const;
const NAME = 'mailgate-integrations';
const VERSION = 1;

let opening: Promise<IDBPDatabase<IntegrationCacheDB>> | null = null;

function open(): Promise<IDBPDatabase<IntegrationCacheDB>> {
	opening ??= openDB<IntegrationCacheDB>(NAME, VERSION, {
		upgrade(db) {
			for (const store of STORES) db.createObjectStore(store, { keyPath: 'key' }).createIndex('byLoadedAt', 'loadedAt');
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

/** The deliveries' first page of `integrationId` as last loaded here, or null (never, or it no longer parses). */
export async function readCachedDeliveries(integrationId: string): Promise<CachedPage<WebhookDelivery> | null> {
	const cached = await (await open()).get('deliveries', integrationId);
	if (!cached) return null;
	const items = z.array(webhookDeliverySchema).safeParse(cached.items);
	return items.success ? { ...cached, items: items.data } : null;
}

export async function cacheDeliveries(
	integrationId: string,
	page: { items: WebhookDelivery[]; hasMore: boolean },
	loadedAt = new Date().toISOString()
): Promise<void> {
	const tx = (await open()).transaction('deliveries', 'readwrite');
	await tx.store.put({ key: integrationId, items: page.items, hasMore: page.hasMore, loadedAt });
	await trimOldest(tx.store, MAX_CACHED_INTEGRATIONS);
	await tx.done;
}

/** The API keys of `integrationId` as last listed here, or null. */
export async function readCachedKeys(integrationId: string): Promise<{ detail: ApiKey[]; loadedAt: string } | null> {
	const cached = await (await open()).get('keys', integrationId);
	if (!cached) return null;
	const items = z.array(apiKeySchema).safeParse(cached.items);
	return items.success ? { detail: items.data, loadedAt: cached.loadedAt } : null;
}

export async function cacheKeys(integrationId: string, items: ApiKey[], loadedAt = new Date().toISOString()): Promise<void> {
	const tx = (await open()).transaction('keys', 'readwrite');
	await tx.store.put({ key: integrationId, items, loadedAt });
	await trimOldest(tx.store, MAX_CACHED_INTEGRATIONS);
	await tx.done;
}

/** Forgets every integration page's copy (on sign-out). */
export async function clearIntegrationCache(): Promise<void> {
	const tx = (await open()).transaction([...STORES], 'readwrite');
	await Promise.all([...STORES.map((store) => tx.objectStore(store).clear()), tx.done]);
}
