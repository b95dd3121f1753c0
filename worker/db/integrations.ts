/** All SQL for channel integrations; rows become `Integration` domain objects here. */
import type { Integration } from '../../src/lib/schema/integration';

interface IntegrationRow {
	id: string;
	name: string;
	version: number;
	created_at: string;
	updated_at: string;
}

const toIntegration = (row: IntegrationRow): Integration => ({
	id: row.id,
	name: row.name,
	version: row.version,
	createdAt: row.created_at,
	updatedAt: row.updated_at
});

const COLUMNS = 'id, name, version, created_at, updated_at';

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
		.prepare(`INSERT INTO integrations (${COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5)`)
		.bind(integration.id, integration.name, integration.version, integration.createdAt, integration.updatedAt)
		.run();
}

/** Renames when the stored version is still `expectedVersion`; false when it moved on. */
export async function renameIntegration(
	db: D1Database,
	options: { id: string; name: string; expectedVersion: number; updatedAt: string }
): Promise<boolean> {
	const result = await db
		.prepare('UPDATE integrations SET name = ?1, version = version + 1, updated_at = ?2 WHERE id = ?3 AND version = ?4')
		.bind(options.name, options.updatedAt, options.id, options.expectedVersion)
		.run();
	return result.meta.changes === 1;
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
