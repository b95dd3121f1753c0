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

/**
 * SPEC §5.6: the original goes to the archive before the row, so there is never a row without
 * its original; either write failing fails the handler. A redelivery (same Message-ID, same
 * mailbox) keeps the first row and its original, and drops the new copy. The attachments'
 * bytes (`parts`, in the order of `logged.attachments`) are kept apart too, so a download never
 * parses the whole original again (archive/parts.ts).
 */
export async function storeMessage(
	env: Pick<Env, 'DB' | 'MAIL_ARCHIVE' | 'WEBHOOK_QUEUE'>,
	raw: Uint8Array,
	logged: LoggedMessage,
	events: readonly NewWebhookEvent[] = [],
	parts: readonly PartContent[] = []
): Promise<boolean> {
	await putMessage(env.MAIL_ARCHIVE, originalKey(logged.id), raw, logged.messageId ?? '');
	const archived = parts.length > 0 ? [originalKey(logged.id), partsKey(logged.id)] : [originalKey(logged.id)];
	let inserted: boolean;
	try {
		if (parts.length > 0) await putParts(env.MAIL_ARCHIVE, logged.id, parts);
		// SPEC §11: the row and the events announcing it in one batch (one transaction): a crash
		// can lose neither alone. An event is recorded only if this row was (not a redelivery).
		const onlyIfLogged = { sql: 'EXISTS (SELECT 1 FROM messages WHERE id = ?1)', values: [logged.id] };
		const [result] = await env.DB.batch([
			insertMessageStatement(env.DB, logged),
			...events.map((event) => insertEventStatement(env.DB, event, onlyIfLogged))
		]);
		inserted = result!.meta.changes === 1;
	} catch (error) {
		await env.MAIL_ARCHIVE.delete(archived).catch(() => {});
		throw error;
	}
	if (!inserted) await env.MAIL_ARCHIVE.delete(archived);
	else await enqueueEvents(env, events.map((event) => event.id));
	return inserted;
}
