/**
 * Keeping an inbound message: its original and attachment bytes in MAIL_ARCHIVE, its log row
 * and the webhook events announcing it in D1, the events then handed to the queue.
 */
import { insertMessageStatement, type LoggedMessage } from '../db/messages';
import { insertEventStatement, type NewWebhookEvent } from '../db/webhooks';
import { enqueueEvents } from '../webhooks/enqueue';
import { originalKey, partsKey } from '../archive/keys';
import { putMessage } from '../archive/originals';
import { putParts, type PartContent } from '../archive/parts';
import type { Services } from '../services';

/**
 * SPEC §5.6: the original goes to the archive before the row, so there is never a row without
 * its original; either write failing fails the handler. A redelivery (same Message-ID, same
 * mailbox) keeps the first row and its original, and drops the new copy. The attachments'
 * bytes (`parts`, in the order of `logged.attachments`) are kept apart too, so a download never
 * parses the whole original again (archive/parts.ts).
 */
export async function storeMessage(
	services: Pick<Services, 'db' | 'archive' | 'queues'>,
	raw: Uint8Array,
	logged: LoggedMessage,
	events: readonly NewWebhookEvent[] = [],
	parts: readonly PartContent[] = []
): Promise<boolean> {
	await putMessage(services.archive, originalKey(logged.id), raw, logged.messageId ?? '');
	const archived = parts.length > 0 ? [originalKey(logged.id), partsKey(logged.id)] : [originalKey(logged.id)];
	let inserted: boolean;
	try {
		if (parts.length > 0) await putParts(services.archive, logged.id, parts);
		// SPEC §11: the row and the events announcing it in one batch (one transaction): a crash
		// can lose neither alone. An event is recorded only if this row was (not a redelivery).
		const onlyIfLogged = { sql: 'EXISTS (SELECT 1 FROM messages WHERE id = ?1)', values: [logged.id] };
		const [result] = await services.db.batch([
			insertMessageStatement(services.db, logged),
			...events.map((event) => insertEventStatement(services.db, event, onlyIfLogged))
		]);
		inserted = result!.meta.changes === 1;
	} catch (error) {
		await services.archive.delete(archived).catch(() => {});
		throw error;
	}
	if (!inserted) await services.archive.delete(archived);
	else await enqueueEvents(services, events.map((event) => event.id));
	return inserted;
}
