/** All SQL for channel integrations; rows become `Integration` domain objects here. */
import type { Integration } from '../../src/lib/schema/integration';
import type { WebhookEventType } from '../../src/lib/schema/webhook';
import { changedOne } from './statements';

interface IntegrationRow {
	id: string;
	name: string;
	version: number;
	created_at: string;
	updated_at: string;
	webhook_url: string | null;
	webhook_events: string | null;
	webhook_updated_at: string | null;
}

const toIntegration = (row: IntegrationRow): Integration => ({
	id: row.id,
	name: row.name,
	version: row.version,
	createdAt: row.created_at,
	updatedAt: row.updated_at,
	webhook: row.webhook_url
		? { url: row.webhook_url, events: JSON.parse(row.webhook_events ?? '[]') as WebhookEventType[], updatedAt: row.webhook_updated_at }
		: null
});

const COLUMNS = 'id, name, version, created_at, updated_at, webhook_url, webhook_events, webhook_updated_at';

export async function listIntegrations(db: D1Database): Promise<Integration[]> {
	const { results } = await db
		.prepare(`SELECT ${COLUMNS} FROM integrations ORDER BY name COLLATE NOCASE, id`)
		.all<IntegrationRow>();
	return results.map(toIntegration);
}

export async function findIntegration(db: D1Database, id: string): Promise<Integration | null> {
	const row = await db.prepare(`SELECT ${COLUMNS} FROM integrations WHERE id = ?1`).bind(id).first<IntegrationRow>();
	return row ? toIntegration(row) : null;
}

/** The integration called `name` (case-insensitively), other than `exceptId`. */
export async function findIntegrationByName(db: D1Database, name: string, exceptId = ''): Promise<Integration | null> {
	const row = await db
		.prepare(`SELECT ${COLUMNS} FROM integrations WHERE name = ?1 COLLATE NOCASE AND id <> ?2`)
		.bind(name, exceptId)
		.first<IntegrationRow>();
	return row ? toIntegration(row) : null;
}

export async function insertIntegration(db: D1Database, integration: Integration): Promise<void> {
	await db
		.prepare('INSERT INTO integrations (id, name, version, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)')
		.bind(integration.id, integration.name, integration.version, integration.createdAt, integration.updatedAt)
		.run();
}

/** Renames when the stored version is still `expectedVersion`; false when it moved on. */
export async function renameIntegration(
	db: D1Database,
	options: { id: string; name: string; expectedVersion: number; updatedAt: string }
): Promise<boolean> {
	return changedOne(db, 'UPDATE integrations SET name = ?1, version = version + 1, updated_at = ?2 WHERE id = ?3 AND version = ?4', options.name, options.updatedAt, options.id, options.expectedVersion);
}

export async function countMailboxesUsing(db: D1Database, integrationId: string): Promise<number> {
	const row = await db
		.prepare('SELECT COUNT(*) AS n FROM mailboxes WHERE integration_id = ?1')
		.bind(integrationId)
		.first<{ n: number }>();
	return row?.n ?? 0;
}

export async function deleteIntegration(db: D1Database, id: string): Promise<boolean> {
	const result = await db.prepare('DELETE FROM integrations WHERE id = ?1').bind(id).run();
	return result.meta.changes === 1;
}

/**
 * Sets (or, with `webhook: null`, removes) the webhook when the stored version is still
 * `expectedVersion`. A new secret is stored only when given (the first time a webhook is set).
 */
export async function setWebhook(
	db: D1Database,
	options: {
		id: string;
		webhook: { url: string; events: WebhookEventType[] } | null;
		sealedSecret?: string;
		expectedVersion: number;
		updatedAt: string;
	}
): Promise<boolean> {
	const { webhook } = options;
	return changedOne(
		db,
		'UPDATE integrations SET webhook_url = ?1, webhook_events = ?2, webhook_secret = CASE WHEN ?1 IS NULL THEN NULL ELSE coalesce(?3, webhook_secret) END, ' +
			'webhook_updated_at = ?4, version = version + 1, updated_at = ?4 WHERE id = ?5 AND version = ?6',
		webhook?.url ?? null, webhook ? JSON.stringify(webhook.events) : null, options.sealedSecret ?? null, options.updatedAt, options.id, options.expectedVersion
	);
}

/** The sealed webhook secret (worker/crypto/secret-box.ts), or null when no webhook is set. */
export async function findWebhookSecret(db: D1Database, id: string): Promise<string | null> {
	const row = await db.prepare('SELECT webhook_secret FROM integrations WHERE id = ?1').bind(id).first<{ webhook_secret: string | null }>();
	return row?.webhook_secret ?? null;
}

export async function replaceWebhookSecret(db: D1Database, id: string, sealed: string): Promise<boolean> {
	const result = await db.prepare('UPDATE integrations SET webhook_secret = ?2 WHERE id = ?1 AND webhook_url IS NOT NULL').bind(id, sealed).run();
	return result.meta.changes === 1;
}

/** The webhook of the integration a mailbox belongs to, with its sealed secret, for recording events. */
export interface WebhookTarget {
	integrationId: string;
	integrationName: string;
	url: string;
	events: WebhookEventType[];
}

export async function findWebhookTarget(db: D1Database, integrationId: string): Promise<WebhookTarget | null> {
	const row = await db
		.prepare('SELECT id, name, webhook_url, webhook_events FROM integrations WHERE id = ?1 AND webhook_url IS NOT NULL')
		.bind(integrationId)
		.first<{ id: string; name: string; webhook_url: string; webhook_events: string }>();
	return row ? { integrationId: row.id, integrationName: row.name, url: row.webhook_url, events: JSON.parse(row.webhook_events) } : null;
}

/** The webhook of the integration a mailbox belongs to (outbound events). */
export async function findWebhookTargetOfMailbox(db: D1Database, mailboxId: string): Promise<WebhookTarget | null> {
	const row = await db
		.prepare(
			'SELECT i.id, i.name, i.webhook_url, i.webhook_events FROM mailboxes m JOIN integrations i ON i.id = m.integration_id ' +
				'WHERE m.id = ?1 AND i.webhook_url IS NOT NULL'
		)
		.bind(mailboxId)
		.first<{ id: string; name: string; webhook_url: string; webhook_events: string }>();
	return row ? { integrationId: row.id, integrationName: row.name, url: row.webhook_url, events: JSON.parse(row.webhook_events) } : null;
}
