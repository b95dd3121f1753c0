/**
 * All SQL for SPEC §12's OAuth sign-ins: a mailbox's connection (tokens sealed, see
 * worker/oauth/tokens.ts) and the sign-ins under way (`state`, single-use).
 */
import type { OAuthProvider } from '../../src/lib/schema/mailbox';
import { changedOne } from './statements';

export interface StoredConnection {
	mailboxId: string;
	provider: OAuthProvider;
	account: string;
	/** Sealed (worker/crypto/secret-box.ts); the plain token never leaves tokens.ts. */
	sealedRefreshToken: string;
	connectedAt: string;
	status: 'connected' | 'reconnect';
	sealedAccessToken: string | null;
	/** ms since the epoch. */
	accessExpiresAt: number | null;
	/** SPEC §14: the scope granted (space-separated); null for a grant made before, which has the provider's SMTP scope. */
	scope: string | null;
}

interface ConnectionRow {
	mailbox_id: string;
	provider: OAuthProvider;
	account: string;
	refresh_token: string;
	connected_at: string;
	status: 'connected' | 'reconnect';
	access_token: string | null;
	access_expires_at: number | null;
	scope: string | null;
}

const toConnection = (row: ConnectionRow): StoredConnection => ({
	mailboxId: row.mailbox_id,
	provider: row.provider,
	account: row.account,
	sealedRefreshToken: row.refresh_token,
	connectedAt: row.connected_at,
	status: row.status,
	sealedAccessToken: row.access_token,
	accessExpiresAt: row.access_expires_at,
	scope: row.scope
});

export async function findConnection(db: D1Database, mailboxId: string): Promise<StoredConnection | null> {
	const row = await db
		.prepare('SELECT mailbox_id, provider, account, refresh_token, connected_at, status, access_token, access_expires_at, scope FROM mailbox_oauth WHERE mailbox_id = ?1')
		.bind(mailboxId)
		.first<ConnectionRow>();
	return row ? toConnection(row) : null;
}

/** A new sign-in replaces whatever the mailbox had (another provider, a withdrawn access). */
export async function saveConnection(db: D1Database, connection: StoredConnection): Promise<void> {
	await db
		.prepare(
			'INSERT INTO mailbox_oauth (mailbox_id, provider, account, refresh_token, connected_at, status, access_token, access_expires_at, scope, updated_at) ' +
				'VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?5) ON CONFLICT (mailbox_id) DO UPDATE SET provider = ?2, account = ?3, ' +
				'refresh_token = ?4, connected_at = ?5, status = ?6, access_token = ?7, access_expires_at = ?8, scope = ?9, updated_at = ?5'
		)
		.bind(
			connection.mailboxId,
			connection.provider,
			connection.account,
			connection.sealedRefreshToken,
			connection.connectedAt,
			connection.status,
			connection.sealedAccessToken,
			connection.accessExpiresAt,
			connection.scope
		)
		.run();
}

/**
 * Stores a refreshed access token (and the rotated refresh token, when the provider sent one),
 * only if the refresh token it came from is still the stored one: a sign-in or another refresh
 * that got there first wins. True when written.
 */
export async function recordRefresh(
	db: D1Database,
	update: { mailboxId: string; usedRefreshToken: string; sealedRefreshToken: string; sealedAccessToken: string; accessExpiresAt: number; at: string }
): Promise<boolean> {
	return changedOne(
		db,
		'UPDATE mailbox_oauth SET refresh_token = ?3, access_token = ?4, access_expires_at = ?5, updated_at = ?6 ' +
			"WHERE mailbox_id = ?1 AND refresh_token = ?2 AND status = 'connected'",
		update.mailboxId, update.usedRefreshToken, update.sealedRefreshToken, update.sealedAccessToken, update.accessExpiresAt, update.at
	);
}

/** The provider refused this refresh token (invalid_grant): the admin must sign in again. */
export async function markReconnect(db: D1Database, mailboxId: string, usedRefreshToken: string, at: string): Promise<boolean> {
	return changedOne(
		db,
		"UPDATE mailbox_oauth SET status = 'reconnect', access_token = NULL, access_expires_at = NULL, updated_at = ?3 " +
			'WHERE mailbox_id = ?1 AND refresh_token = ?2',
		mailboxId, usedRefreshToken, at
	);
}

/**
 * SPEC §14: the mailbox's Send through changed. An access token is for one resource (Microsoft
 * issues them per resource), so the next send gets one for the new method.
 */
export async function forgetAnyAccessToken(db: D1Database, mailboxId: string): Promise<void> {
	await db.prepare('UPDATE mailbox_oauth SET access_token = NULL, access_expires_at = NULL WHERE mailbox_id = ?1').bind(mailboxId).run();
}

/** The SMTP server refused this access token: the next sign-in fetches a new one. */
export async function forgetAccessToken(db: D1Database, mailboxId: string, sealedAccessToken: string): Promise<void> {
	await db
		.prepare('UPDATE mailbox_oauth SET access_token = NULL, access_expires_at = NULL WHERE mailbox_id = ?1 AND access_token = ?2')
		.bind(mailboxId, sealedAccessToken)
		.run();
}

export interface PendingSignIn {
	stateHash: string;
	mailboxId: string;
	provider: OAuthProvider;
	sealedCodeVerifier: string;
	redirectUri: string;
	createdAt: string;
	/** ms since the epoch. */
	expiresAt: number;
	/** The scope asked for (SPEC §14: the mailbox's method's); null for a sign-in started before. */
	scope: string | null;
}

interface PendingRow {
	state_hash: string;
	mailbox_id: string;
	provider: OAuthProvider;
	code_verifier: string;
	redirect_uri: string;
	created_at: string;
	expires_at: number;
	scope: string | null;
}

/** Records a sign-in under way; sign-ins long expired are cleared on the way (the table stays small). */
export async function insertPendingSignIn(db: D1Database, pending: PendingSignIn, now: number): Promise<void> {
	await db.batch([
		db.prepare('DELETE FROM oauth_states WHERE expires_at < ?1').bind(now - 24 * 60 * 60_000),
		db
			.prepare(
				'INSERT INTO oauth_states (state_hash, mailbox_id, provider, code_verifier, redirect_uri, created_at, expires_at, scope) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)'
			)
			.bind(pending.stateHash, pending.mailboxId, pending.provider, pending.sealedCodeVerifier, pending.redirectUri, pending.createdAt, pending.expiresAt, pending.scope)
	]);
}

/** Sign-ins of this mailbox still within their time. */
export async function countPendingSignIns(db: D1Database, mailboxId: string, now: number): Promise<number> {
	const row = await db.prepare('SELECT COUNT(*) AS n FROM oauth_states WHERE mailbox_id = ?1 AND expires_at > ?2').bind(mailboxId, now).first<{ n: number }>();
	return row?.n ?? 0;
}

/** SPEC §12: a mailbox that signs in with a password (again), or with another provider, keeps no tokens. */
export async function deleteConnection(db: D1Database, mailboxId: string): Promise<void> {
	await db.prepare('DELETE FROM mailbox_oauth WHERE mailbox_id = ?1').bind(mailboxId).run();
}

/**
 * Takes a sign-in under way out of the table, in one statement: a `state` is good once, even when
 * the provider's redirect is replayed or two arrive at the same moment. Null when it was never
 * made or is already used. An expired one is returned (and removed) so the caller can say so.
 */
export async function takePendingSignIn(db: D1Database, stateHash: string): Promise<PendingSignIn | null> {
	const row = await db
		.prepare('DELETE FROM oauth_states WHERE state_hash = ?1 RETURNING state_hash, mailbox_id, provider, code_verifier, redirect_uri, created_at, expires_at, scope')
		.bind(stateHash)
		.first<PendingRow>();
	if (!row) return null;
	return {
		stateHash: row.state_hash,
		mailboxId: row.mailbox_id,
		provider: row.provider,
		sealedCodeVerifier: row.code_verifier,
		redirectUri: row.redirect_uri,
		createdAt: row.created_at,
		expiresAt: row.expires_at,
		scope: row.scope
	};
}
