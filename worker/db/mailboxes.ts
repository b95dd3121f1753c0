/** All SQL for mailboxes; rows become `StoredMailbox` domain objects here. */
import type { Encryption, Mailbox, OAuthConnection, OAuthProvider, SendVia, SmtpAuth, SmtpLimits } from '../../src/lib/schema/mailbox';
import { changedOne } from './statements';

/** A mailbox as stored: the API shape minus derived fields, plus the sealed password. */
export interface StoredMailbox {
	id: string;
	version: number;
	integrationId: string;
	name: string;
	description: string;
	address: string;
	smtp: {
		host: string;
		port: number;
		username: string;
		encryption: Encryption;
		auth: SmtpAuth;
		oauth: { provider: OAuthProvider } | null;
		/** SPEC §14: by SMTP, or through the provider's API (then host, port and encryption are not used). */
		sendVia: SendVia;
		/** SPEC §15: the admin's overrides of the provider's limits; null: the provider's defaults. */
		limits: SmtpLimits | null;
	};
	/**
	 * SPEC §15: a provider's limit answer paused the mailbox until `until` (ms), with its words.
	 * Not a setting: it never moves the version. A time past means it no longer waits.
	 */
	pause: { until: number; reason: string } | null;
	/** AES-GCM ciphertext (worker/crypto/secret-box.ts); never leaves the Worker. '' with OAuth. */
	sealedPassword: string;
	/**
	 * SPEC §12: the OAuth sign-in made for this mailbox (db/oauth.ts), as the API may show it;
	 * null when none was made. Not part of the settings: it never moves the version. `scope` is
	 * what the provider granted (null: a grant made before SPEC §14, for SMTP).
	 */
	oauthConnection: (Omit<OAuthConnection, 'status' | 'scopeMissing'> & { status: 'connected' | 'reconnect'; scope: string | null }) | null;
	manualForward: Mailbox['manualForward'];
	createdAt: string;
	updatedAt: string;
}

interface MailboxRow {
	id: string;
	integration_id: string;
	name: string;
	description: string;
	address: string;
	smtp_host: string;
	smtp_port: number;
	smtp_username: string;
	smtp_password: string;
	smtp_encryption: Encryption;
	manual_forward: Mailbox['manualForward'];
	version: number;
	created_at: string;
	updated_at: string;
	smtp_auth: SmtpAuth;
	smtp_oauth_provider: OAuthProvider | null;
	smtp_send_via: SendVia;
	smtp_paused_until: number | null;
	smtp_pause_reason: string | null;
	smtp_limits: string | null;
	oauth_provider: OAuthProvider | null;
	oauth_account: string | null;
	oauth_connected_at: string | null;
	oauth_status: 'connected' | 'reconnect' | null;
	oauth_scope: string | null;
}

const COLUMNS = [
	'id', 'integration_id', 'name', 'description', 'address', 'smtp_host', 'smtp_port', 'smtp_username', 'smtp_password',
	'smtp_encryption', 'manual_forward', 'version', 'created_at', 'updated_at', 'smtp_auth', 'smtp_oauth_provider', 'smtp_send_via',
	'smtp_paused_until', 'smtp_pause_reason', 'smtp_limits'
];
/** The mailbox with its OAuth connection's public part (never its tokens). */
const SELECT =
	`SELECT ${COLUMNS.map((column) => `m.${column}`).join(', ')}, o.provider AS oauth_provider, o.account AS oauth_account, ` +
	'o.connected_at AS oauth_connected_at, o.status AS oauth_status, o.scope AS oauth_scope FROM mailboxes m LEFT JOIN mailbox_oauth o ON o.mailbox_id = m.id';

const toMailbox = (row: MailboxRow): StoredMailbox => ({
	id: row.id,
	version: row.version,
	integrationId: row.integration_id,
	name: row.name,
	description: row.description,
	address: row.address,
	smtp: {
		host: row.smtp_host,
		port: row.smtp_port,
		username: row.smtp_username,
		encryption: row.smtp_encryption,
		auth: row.smtp_auth,
		oauth: row.smtp_oauth_provider ? { provider: row.smtp_oauth_provider } : null,
		sendVia: row.smtp_send_via,
		limits: readLimits(row.smtp_limits)
	},
	pause: row.smtp_paused_until === null ? null : { until: row.smtp_paused_until, reason: row.smtp_pause_reason ?? '' },
	sealedPassword: row.smtp_password,
	oauthConnection:
		row.oauth_provider && row.oauth_status
			? { provider: row.oauth_provider, account: row.oauth_account, connectedAt: row.oauth_connected_at, status: row.oauth_status, scope: row.oauth_scope }
			: null,
	manualForward: row.manual_forward,
	createdAt: row.created_at,
	updatedAt: row.updated_at
});

/** The stored overrides (a JSON object written by `values` below); anything else reads as none. */
function readLimits(text: string | null): SmtpLimits | null {
	if (!text) return null;
	try {
		const parsed = JSON.parse(text) as SmtpLimits | null;
		return parsed && typeof parsed === 'object' ? parsed : null;
	} catch {
		return null;
	}
}

export async function listMailboxes(db: D1Database): Promise<StoredMailbox[]> {
	const { results } = await db
		.prepare(`${SELECT} ORDER BY m.address COLLATE NOCASE, m.id`)
		.all<MailboxRow>();
	return results.map(toMailbox);
}

export async function findMailbox(db: D1Database, id: string): Promise<StoredMailbox | null> {
	const row = await db.prepare(`${SELECT} WHERE m.id = ?1`).bind(id).first<MailboxRow>();
	return row ? toMailbox(row) : null;
}

/** The mailbox whose service address is `address` (case-insensitively), other than `exceptId`. */
export async function findMailboxByAddress(db: D1Database, address: string, exceptId = ''): Promise<StoredMailbox | null> {
	const row = await db
		.prepare(`${SELECT} WHERE m.address = ?1 COLLATE NOCASE AND m.id <> ?2`)
		.bind(address, exceptId)
		.first<MailboxRow>();
	return row ? toMailbox(row) : null;
}

const values = (m: StoredMailbox) => [
	m.integrationId,
	m.name,
	m.description,
	m.address,
	m.smtp.host,
	m.smtp.port,
	m.smtp.username,
	m.sealedPassword,
	m.smtp.encryption,
	m.manualForward,
	m.smtp.auth,
	m.smtp.oauth?.provider ?? null,
	m.smtp.sendVia,
	m.smtp.limits ? JSON.stringify(m.smtp.limits) : null
];

export async function insertMailbox(db: D1Database, mailbox: StoredMailbox): Promise<void> {
	await db
		.prepare(
			'INSERT INTO mailboxes (id, integration_id, name, description, address, smtp_host, smtp_port, smtp_username, smtp_password, ' +
				'smtp_encryption, manual_forward, smtp_auth, smtp_oauth_provider, smtp_send_via, smtp_limits, version, created_at, updated_at) ' +
				'VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)'
		)
		.bind(mailbox.id, ...values(mailbox), mailbox.version, mailbox.createdAt, mailbox.updatedAt)
		.run();
}

/**
 * Writes `mailbox` as version `expectedVersion + 1` when the stored version is still
 * `expectedVersion`; false when another edit got there first.
 */
export async function updateMailbox(db: D1Database, mailbox: StoredMailbox, expectedVersion: number): Promise<boolean> {
	return changedOne(
		db,
		'UPDATE mailboxes SET integration_id = ?1, name = ?2, description = ?3, address = ?4, smtp_host = ?5, ' +
			'smtp_port = ?6, smtp_username = ?7, smtp_password = ?8, smtp_encryption = ?9, manual_forward = ?10, ' +
			'smtp_auth = ?11, smtp_oauth_provider = ?12, smtp_send_via = ?13, smtp_limits = ?14, version = ?15, updated_at = ?16 WHERE id = ?17 AND version = ?18',
		...values(mailbox), expectedVersion + 1, mailbox.updatedAt, mailbox.id, expectedVersion
	);
}

/**
 * Replaces the sealed password `from` with `to` (the same password sealed with its server
 * binding) unless the row changed meanwhile. Not an edit of the settings: the version stays.
 */
export async function replaceSealedPassword(db: D1Database, id: string, from: string, to: string): Promise<boolean> {
	const result = await db.prepare('UPDATE mailboxes SET smtp_password = ?3 WHERE id = ?1 AND smtp_password = ?2').bind(id, from, to).run();
	return result.meta.changes === 1;
}

/**
 * SPEC §15: pauses the mailbox until `until` (ms) with the provider's words. Only ever moves the
 * pause later (two invocations meeting limits at once keep the later time), and is not an edit:
 * the version and updated_at stay.
 */
export async function pauseMailbox(db: D1Database, id: string, until: number, reason: string): Promise<void> {
	await db
		.prepare('UPDATE mailboxes SET smtp_paused_until = ?2, smtp_pause_reason = ?3 WHERE id = ?1 AND (smtp_paused_until IS NULL OR smtp_paused_until < ?2)')
		.bind(id, until, reason)
		.run();
}

/** SPEC §15 and §16: the admin's Send now or Retry lifts the pause (a provider still limiting answers again, and pauses again). */
export async function liftPause(db: D1Database, id: string): Promise<void> {
	await db.prepare('UPDATE mailboxes SET smtp_paused_until = NULL WHERE id = ?1 AND smtp_paused_until IS NOT NULL').bind(id).run();
}

export async function deleteMailbox(db: D1Database, id: string): Promise<boolean> {
	// Not meta.changes: D1 counts the rows ON DELETE CASCADE removes with it (SMTP tests, flow checks, the OAuth sign-in).
	const row = await db.prepare('DELETE FROM mailboxes WHERE id = ?1 RETURNING id').bind(id).first<{ id: string }>();
	return row !== null;
}

/** The ids of an integration's mailboxes: an API key's reach (SPEC §11). */
export async function mailboxIdsOfIntegration(db: D1Database, integrationId: string): Promise<string[]> {
	const { results } = await db.prepare('SELECT id FROM mailboxes WHERE integration_id = ?1').bind(integrationId).all<{ id: string }>();
	return results.map((row) => row.id);
}
