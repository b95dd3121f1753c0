/**
 * SPEC §15: a mailbox's replies leave in the order they were queued, whichever invocation holds
 * them. Before a reply takes its turn, the consumer asks whether an older reply of the mailbox
 * is still to leave. Uses the index outbound_mailbox_status_created (migration 0006).
 */
import { ROW_COMPOSED_COLUMNS, rowComposedOf, type RowComposed } from './outbound';

/**
 * The status of an older reply of the mailbox that has not left yet: `queued` (held back or not
 * yet taken), `sending` (another invocation has it in hand), or null when none is ahead.
 * A deferred reply failed an attempt and waits for its own time: it holds nobody up. `except`:
 * the replies the asking invocation has in hand ahead of this one (sending, or their outcome
 * still being recorded while this one is made ready, RFC 2920 §3.1).
 */
export async function olderUnsent(
	db: D1Database,
	outbound: { id: string; mailboxId: string | null; createdAt: string },
	except: readonly string[] = []
): Promise<'queued' | 'sending' | null> {
	const row = await db
		.prepare(
			"SELECT status FROM outbound WHERE mailbox_id = ?1 AND status IN ('queued', 'sending') AND (created_at < ?2 OR (created_at = ?2 AND id < ?3)) " +
				"AND id NOT IN (SELECT value FROM json_each(?4)) ORDER BY status = 'queued' DESC LIMIT 1"
		)
		.bind(outbound.mailboxId, outbound.createdAt, outbound.id, JSON.stringify(except))
		.first<{ status: 'queued' | 'sending' }>();
	return row?.status ?? null;
}

/**
 * The mailbox's `queued` replies older than `newest` that may leave now, oldest first, at most
 * `limit`: never held back (the queue has not delivered them yet), or held back until a time
 * that has passed (their queue message is late or lost). One held until later stays: its
 * mailbox had no room before then. Uses the index outbound_mailbox_status_created (migration 0006).
 */
export async function olderWaiting(
	db: D1Database,
	mailboxId: string,
	newest: { id: string; createdAt: string },
	except: readonly string[],
	limit: number,
	now: Date
): Promise<string[]> {
	const { results } = await db
		.prepare(
			"SELECT id FROM outbound WHERE mailbox_id = ?1 AND status = 'queued' AND (next_attempt_at IS NULL OR next_attempt_at <= ?6) " +
				'AND (created_at < ?2 OR (created_at = ?2 AND id < ?3)) AND id NOT IN (SELECT value FROM json_each(?4)) ORDER BY created_at, id LIMIT ?5'
		)
		.bind(mailboxId, newest.createdAt, newest.id, JSON.stringify(except), limit, now.toISOString())
		.all<{ id: string }>();
	return results.map((row) => row.id);
}

/**
 * Renews this consumer's claim when a reply's turn to leave comes (it may have waited behind the
 * batch's others), while the claim is still the one made at `claimedAt`, which then becomes `at`
 * (the record of its outcome is written only under it, db/outbound.ts finishAttemptStatement).
 * Answers with the composed message the row still keeps (null when it is in R2, outbound/composed.ts),
 * read in the same statement; null when the lease ran out meanwhile and the row was recovered or
 * claimed again (then it is not sent here).
 */
export async function renewClaim(
	db: D1Database,
	outbound: { id: string; claimedAt: string | null; text: string },
	at: Date
): Promise<{ composedInRow: RowComposed | null } | null> {
	const renewed = at.toISOString();
	const row = await db
		.prepare(`UPDATE outbound SET claimed_at = ?3 WHERE id = ?1 AND status = 'sending' AND claimed_at = ?2 RETURNING ${ROW_COMPOSED_COLUMNS}`)
		.bind(outbound.id, outbound.claimedAt, renewed)
		.first<{ composed: string | null; composed_text_at: number | null }>();
	if (!row) return null;
	outbound.claimedAt = renewed;
	return { composedInRow: rowComposedOf(row, outbound.text) };
}
