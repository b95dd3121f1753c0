/** All SQL for webhook events and API keys (SPEC §11); rows become domain values here. */
import type { ApiKey, WebhookAttempt, WebhookDelivery } from '../../src/lib/schema/webhook';

export interface NewWebhookEvent {
	id: string;
	integrationId: string;
	type: string;
	subjectId: string | null;
	/** The exact JSON body that is sent. */
	payload: string;
	createdAt: string;
}

/**
 * Records an event, in the caller's batch. `onlyIf` is a SQL condition (with its values bound
 * after the event's) that must hold once the batch's earlier statements have run, e.g. "the log
 * row was inserted": an event is never recorded for a write that did not happen.
 */
export function insertEventStatement(db: D1Database, event: NewWebhookEvent, onlyIf?: { sql: string; values: unknown[] }): D1PreparedStatement {
	const values = [event.id, event.integrationId, event.type, event.subjectId, event.payload, event.createdAt];
	const condition = onlyIf ? `WHERE ${onlyIf.sql.replace(/\?(\d+)/g, (_, n: string) => `?${Number(n) + values.length}`)}` : '';
	return db
		.prepare(
			'INSERT OR IGNORE INTO webhook_events (id, integration_id, type, subject_id, payload, status, created_at) ' +
				`SELECT ?1, ?2, ?3, ?4, ?5, 'pending', ?6 ${condition}`
		)
		.bind(...values, ...(onlyIf?.values ?? []));
}

export interface StoredEvent extends WebhookDelivery {
	integrationId: string;
	payload: string;
	claimedAt: string | null;
}

interface EventRow {
	id: string;
	integration_id: string;
	type: string;
	subject_id: string | null;
	payload: string;
	status: WebhookDelivery['status'];
	created_at: string;
	next_attempt_at: string | null;
	claimed_at: string | null;
	delivered_at: string | null;
	attempts: string;
}

const EVENT_COLUMNS = 'id, integration_id, type, subject_id, payload, status, created_at, next_attempt_at, claimed_at, delivered_at, attempts';

const toEvent = (row: EventRow): StoredEvent => ({
	id: row.id,
	integrationId: row.integration_id,
	type: row.type,
	subjectId: row.subject_id,
	payload: row.payload,
	status: row.status,
	createdAt: row.created_at,
	nextAttemptAt: row.next_attempt_at,
	claimedAt: row.claimed_at,
	deliveredAt: row.delivered_at,
	attempts: JSON.parse(row.attempts) as WebhookAttempt[]
});

export function toDelivery(event: StoredEvent): WebhookDelivery {
	const { id, type, subjectId, status, createdAt, nextAttemptAt, deliveredAt, attempts } = event;
	return { id, type, subjectId, status, createdAt, nextAttemptAt, deliveredAt, attempts };
}

export async function findEvent(db: D1Database, id: string): Promise<StoredEvent | null> {
	const row = await db.prepare(`SELECT ${EVENT_COLUMNS} FROM webhook_events WHERE id = ?1`).bind(id).first<EventRow>();
	return row ? toEvent(row) : null;
}

/** Recent deliveries of an integration, newest first, by keyset cursor (payloads left out). */
export async function listEvents(db: D1Database, integrationId: string, options: { after?: { createdAt: string; id: string }; limit: number }): Promise<StoredEvent[]> {
	const after = options.after;
	const { results } = await db
		.prepare(
			`SELECT ${EVENT_COLUMNS.replace('payload', "'' AS payload")} FROM webhook_events WHERE integration_id = ?1 ` +
				`${after ? 'AND (created_at, id) < (?3, ?4)' : ''} ORDER BY created_at DESC, id DESC LIMIT ?2`
		)
		.bind(integrationId, options.limit, ...(after ? [after.createdAt, after.id] : []))
		.all<EventRow>();
	return results.map(toEvent);
}

const CLAIM_EARLY_MS = 5_000;

/**
 * Takes an event for one delivery attempt: only a `pending` one that is due, so a redelivered
 * queue message never sends one already delivered, and two consumers never send one at once.
 */
export async function claimEvent(db: D1Database, id: string, at: Date): Promise<StoredEvent | null> {
	const row = await db
		.prepare(
			`UPDATE webhook_events SET status = 'delivering', claimed_at = ?2 WHERE id = ?1 AND status = 'pending' ` +
				`AND (next_attempt_at IS NULL OR next_attempt_at <= ?3) RETURNING ${EVENT_COLUMNS}`
		)
		.bind(id, at.toISOString(), new Date(at.getTime() + CLAIM_EARLY_MS).toISOString())
		.first<EventRow>();
	return row ? toEvent(row) : null;
}

/**
 * Ends an attempt this consumer owns: delivered, pending again with its next time, or failed. Only
 * under the claim it was made with (`claimedAt`; null for the test event, sent without a claim):
 * one whose lease ran out and that the sweep or another consumer took again is theirs to record,
 * so a late answer never turns a delivered event back into a failed or pending one.
 */
export async function finishEventAttempt(
	db: D1Database,
	event: { id: string; claimedAt: string | null },
	outcome: { status: 'delivered' | 'pending' | 'failed'; attempt: WebhookAttempt; nextAttemptAt: string | null }
): Promise<void> {
	await db
		.prepare(
			"UPDATE webhook_events SET status = ?2, attempts = json_insert(attempts, '$[#]', json(?3)), next_attempt_at = ?4, " +
				"claimed_at = NULL, delivered_at = CASE WHEN ?2 = 'delivered' THEN ?5 ELSE delivered_at END WHERE id = ?1 AND claimed_at IS ?6"
		)
		.bind(event.id, outcome.status, JSON.stringify(outcome.attempt), outcome.nextAttemptAt, outcome.attempt.at, event.claimedAt)
		.run();
}

/**
 * Resend (SPEC §11): a delivered or failed event goes out again, its attempts kept; Send now
 * (SPEC §16): a pending one waiting for its retry becomes due at once. Either way the same row,
 * so the same webhook-id; one being delivered right now is left alone (null). A pending event's
 * earlier delayed queue message then finds it delivered, or not yet due again, and sends nothing.
 */
export async function requeueEvent(db: D1Database, id: string, integrationId: string): Promise<StoredEvent | null> {
	const row = await db
		.prepare(
			"UPDATE webhook_events SET status = 'pending', next_attempt_at = NULL, claimed_at = NULL WHERE id = ?1 AND integration_id = ?2 " +
				`AND status IN ('delivered', 'failed', 'pending') RETURNING ${EVENT_COLUMNS}`
		)
		.bind(id, integrationId)
		.first<EventRow>();
	return row ? toEvent(row) : null;
}

/** Events the queue may have lost: pending past their time, or stuck delivering past the lease. */
export async function findStrandedEvents(db: D1Database, before: { due: string; delivering: string }, limit: number): Promise<Array<{ id: string; status: string }>> {
	const { results } = await db
		.prepare(
			"SELECT id, status FROM webhook_events WHERE (status = 'pending' AND coalesce(next_attempt_at, created_at) < ?1) " +
				"OR (status = 'delivering' AND claimed_at < ?2) LIMIT ?3"
		)
		.bind(before.due, before.delivering, limit)
		.all<{ id: string; status: string }>();
	return results;
}

/** Marks a stranded event as handed to the queue again, so the next sweep leaves it a while. */
export async function touchEvent(db: D1Database, id: string, nextAttemptAt: string): Promise<void> {
	await db
		.prepare("UPDATE webhook_events SET status = 'pending', claimed_at = NULL, next_attempt_at = ?2 WHERE id = ?1 AND status IN ('pending', 'delivering')")
		.bind(id, nextAttemptAt)
		.run();
}

export async function deleteEventsBefore(db: D1Database, before: string): Promise<number> {
	const result = await db.prepare('DELETE FROM webhook_events WHERE created_at < ?1').bind(before).run();
	return result.meta.changes;
}

interface KeyRow {
	id: string;
	integration_id: string;
	name: string;
	created_at: string;
	last_used_at: string | null;
}

const toKey = (row: KeyRow): ApiKey & { integrationId: string } => ({
	id: row.id,
	integrationId: row.integration_id,
	name: row.name,
	createdAt: row.created_at,
	lastUsedAt: row.last_used_at
});

export async function insertApiKey(db: D1Database, key: { id: string; integrationId: string; name: string; hash: string; createdAt: string }): Promise<void> {
	await db
		.prepare('INSERT INTO api_keys (id, integration_id, name, key_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)')
		.bind(key.id, key.integrationId, key.name, key.hash, key.createdAt)
		.run();
}

export async function listApiKeys(db: D1Database, integrationId: string): Promise<ApiKey[]> {
	const { results } = await db
		.prepare('SELECT id, integration_id, name, created_at, last_used_at FROM api_keys WHERE integration_id = ?1 ORDER BY created_at, id')
		.bind(integrationId)
		.all<KeyRow>();
	return results.map(({ integration_id: _, ...row }) => {
		const { integrationId: _i, ...key } = toKey({ ...row, integration_id: integrationId });
		return key;
	});
}

export async function findApiKeyByHash(db: D1Database, hash: string): Promise<(ApiKey & { integrationId: string }) | null> {
	const row = await db
		.prepare('SELECT id, integration_id, name, created_at, last_used_at FROM api_keys WHERE key_hash = ?1')
		.bind(hash)
		.first<KeyRow>();
	return row ? toKey(row) : null;
}

/** At most one write a minute per key: `lastUsedAt` is for humans, not an audit log. */
export async function touchApiKey(db: D1Database, id: string, at: Date): Promise<void> {
	await db
		.prepare('UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1 AND (last_used_at IS NULL OR last_used_at < ?3)')
		.bind(id, at.toISOString(), new Date(at.getTime() - 60_000).toISOString())
		.run();
}

export async function deleteApiKey(db: D1Database, id: string, integrationId: string): Promise<boolean> {
	const result = await db.prepare('DELETE FROM api_keys WHERE id = ?1 AND integration_id = ?2').bind(id, integrationId).run();
	return result.meta.changes === 1;
}
