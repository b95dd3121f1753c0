/**
 * The inbound mail counts of every mailbox (`GET /api/mailbox-health`), loaded like any record
 * that stays readable offline (`loadWithCopy`, SPEC §6): live when online, kept on this device,
 * and offline, or when the server cannot be reached, the copy as last loaded here. One call
 * serves the mailbox list and each mailbox page, so the copy kept is always the whole list's.
 */
import { api } from '../api';
import type { MailboxHealth } from '../schema/message';
import { loadWithCopy } from './detail-copy';
import { live } from './live.svelte';
import { cacheHealth, readCachedHealth } from './log-cache';

export type HealthCopy =
	/** `asOf` is set when the counts are the copy on this device. */
	| { status: 'ready'; items: MailboxHealth[]; asOf: { loadedAt: string; offline: boolean } | null }
	/** The server refused, or it could not be reached and no copy was ever kept here: the pages do without the counts. */
	| { status: 'unavailable'; items: MailboxHealth[]; asOf: null };

export async function loadHealth(online: boolean): Promise<HealthCopy> {
	const result = await loadWithCopy({
		online,
		fetch: () => api.mailboxHealth(),
		keepCopy: (items) => cacheHealth(items),
		readCopy: async () => {
			const cached = await readCachedHealth();
			return cached && { detail: cached.items, loadedAt: cached.loadedAt };
		}
	});
	if (result.state !== 'loaded') return { status: 'unavailable', items: [], asOf: null };
	return {
		status: 'ready',
		items: result.value,
		asOf: result.loadedAt === null ? null : { loadedAt: result.loadedAt, offline: !live.online }
	};
}
