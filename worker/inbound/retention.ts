/**
 * SPEC §5.7: the email log keeps 30 days. The scheduled job deletes older rows in batches,
 * archived originals (and a message's attachment parts) first (an object already gone is fine:
 * R2 deletes are idempotent), so no original outlives its row.
 */
import { deleteMessages, messageIdsBefore } from '../db/messages';
import { deleteOutbound, outboundIdsBefore } from '../db/outbound';
import { messageKeys, replyKeys } from '../archive/keys';
import type { Services } from '../services';

export const RETENTION_DAYS = 30;
export const DAY_MS = 24 * 60 * 60 * 1000;

/** The oldest time the log still holds at `now`: rows received before it are purged. */
export const retentionStart = (now: Date): string => new Date(now.getTime() - RETENTION_DAYS * DAY_MS).toISOString();
/**
 * Rows per batch: R2 deletes up to 1,000 keys per call, and a message has two (its original
 * and its attachment parts); D1 binds the ids as one JSON value.
 */
export const PURGE_BATCH = 500;
/** The free plan allows 50 queries per invocation: two per batch, with room to spare. */
export const MAX_PURGE_BATCHES = 20;

export async function purgeOldMessages(services: Pick<Services, 'db' | 'archive'>, now: Date): Promise<number> {
	return purge(services, now, { idsBefore: messageIdsBefore, deleteRows: deleteMessages, keys: messageKeys });
}

/** SPEC §10: replies (and their composed messages under outbound/<id>) are kept as long as the log. */
export async function purgeOldOutbound(services: Pick<Services, 'db' | 'archive'>, now: Date): Promise<number> {
	return purge(services, now, { idsBefore: outboundIdsBefore, deleteRows: deleteOutbound, keys: replyKeys });
}

async function purge(
	services: Pick<Services, 'db' | 'archive'>,
	now: Date,
	table: {
		idsBefore: (db: D1Database, before: string, batch: number) => Promise<string[]>;
		deleteRows: (db: D1Database, ids: readonly string[]) => Promise<number>;
		keys: (id: string) => string[];
	}
): Promise<number> {
	const before = retentionStart(now);
	let total = 0;
	for (let batch = 0; batch < MAX_PURGE_BATCHES / 2; batch++) {
		const ids = await table.idsBefore(services.db, before, PURGE_BATCH);
		if (ids.length === 0) break;
		await services.archive.delete(ids.flatMap(table.keys));
		total += await table.deleteRows(services.db, ids);
		if (ids.length < PURGE_BATCH) break;
	}
	return total;
}
