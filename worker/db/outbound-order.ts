/**
 * SPEC §15: a mailbox's replies leave in the order they were queued, whichever invocation holds
 * them. Before a reply takes its turn, the consumer asks whether an older reply of the mailbox
 * is still to leave. Uses the index outbound_mailbox_status_created (migration 0006).
 */

/**
 * The status of an older reply of the mailbox that has not left yet: `queued` (held back or not
 * yet taken), `sending` (another invocation has it in hand), or null when none is ahead.
 * A deferred reply failed an attempt and waits for its own time: it holds nobody up. `except`:
 * the reply the asking invocation is sending just ahead of this one (RFC 2920 §3.1 pipelining).
 */
export async function olderUnsent(
	db: D1Database,
	outbound: { id: string; mailboxId: string | null; createdAt: string },
	except: string | null = null
): Promise<'queued' | 'sending' | null> {
	const row = await db
		.prepare(
			"SELECT status FROM outbound WHERE mailbox_id = ?1 AND status IN ('queued', 'sending') AND (created_at < ?2 OR (created_at = ?2 AND id < ?3)) " +
				"AND id IS NOT ?4 ORDER BY status = 'queued' DESC LIMIT 1"
		)
		.bind(outbound.mailboxId, outbound.createdAt, outbound.id, except)
		.first<{ status: 'queued' | 'sending' }>();
	return row?.status ?? null;
}
