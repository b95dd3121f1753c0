/**
 * A mailbox's OAuth tokens (SPEC §12): sealed at rest with the one AES-256-GCM box, bound to the
 * mailbox (STYLE §15), and the access token an SMTP login uses. The access token is cached in D1
 * (sealed) until a minute before it expires, so the SMTP test, replies and the mail flow check,
 * which run in different Worker invocations, share it instead of each asking the provider; a
 * rotated refresh token replaces the stored one; `invalid_grant` marks the connection for
 * reconnecting. SPEC §14: each way of sending needs its own scope; a grant without the mailbox's
 * method's scope reads as "reconnect" without asking the provider.
 */
import type { OAuthProvider, SendVia } from '../../src/lib/schema/mailbox';
import type { Config } from '../config';
import type { LostSecret, Sealer } from '../crypto/sealer';
import { findConnection, forgetAccessToken, markReconnect, recordRefresh, type StoredConnection } from '../db/oauth';
import { refreshAccessToken, type TokenFailure, type Tokens } from './client';
import { grantCovers, providerConfig, providerSetup } from './providers';
import type { Services } from '../services';

/** SPEC §12: an access token is reused until a minute before it expires. */
export const ACCESS_TOKEN_MARGIN_MS = 60_000;

/** What the OAuth pieces need: D1, the providers' settings and the sealer (worker/config.ts). */
export interface OAuthDependencies {
	db: D1Database;
	oauth: Config['oauth'];
	sealer: Sealer;
}

export function oauthDependencies(services: Pick<Services, 'db' | 'config'>): OAuthDependencies {
	const { db, config } = services;
	return { db, oauth: config.oauth, sealer: config.sealer };
}

/** When an access token given at `at` expires (ms); one without a stated lifetime is used for this login only. */
export function expiresAt(tokens: Pick<Tokens, 'expiresIn'>, at: number): number {
	return tokens.expiresIn === null ? at : at + tokens.expiresIn * 1000;
}

export type AccessFailure =
	| { reason: 'not_connected' }
	/** Connected with another provider than the one the settings name. */
	| { reason: 'other_provider'; connected: OAuthProvider }
	/** Signed in as another account than the settings' Account (it was changed since). */
	| { reason: 'account_changed'; account: string }
	/**
	 * The provider withdrew the access (invalid_grant), now or before; or (`scope`, SPEC §14) the
	 * grant is for the other way of sending: sending this way needs another consent.
	 */
	| { reason: 'reconnect'; scope?: boolean }
	| { reason: 'not_configured'; missing: string[] }
	/** The stored refresh token does not open (worker/crypto/sealer.ts): sign in again. */
	| { reason: 'undecryptable'; lost: LostSecret }
	| { reason: 'token_endpoint'; failure: Exclude<TokenFailure, { kind: 'invalid_grant' }> };

export type AccessOutcome =
	| { ok: true; accessToken: string; account: string; fromCache: boolean; forget: () => Promise<void> }
	| { ok: false; failure: AccessFailure };

/**
 * The access token to send as `account` at `provider` by `sendVia`: the cached one while it is good,
 * else a new one from the refresh token. Two invocations refreshing at once cannot lose a rotated
 * refresh token: only the refresh that started from the stored token writes, and one refused with
 * `invalid_grant` after another rotated the token tries again with the new one.
 */
export async function accessTokenFor(
	services: Pick<Services, 'db' | 'config'>,
	mailbox: { id: string; provider: OAuthProvider; account: string; sendVia: SendVia },
	options: { now?: () => number; forceRefresh?: boolean } = {}
): Promise<AccessOutcome> {
	const { db, oauth, sealer } = oauthDependencies(services);
	const now = options.now ?? (() => Date.now());
	let connection = await findConnection(db, mailbox.id);
	for (let attempt = 0; ; attempt++) {
		if (!connection) return { ok: false, failure: { reason: 'not_connected' } };
		if (connection.provider !== mailbox.provider) return { ok: false, failure: { reason: 'other_provider', connected: connection.provider } };
		if (connection.account.toLowerCase() !== mailbox.account.trim().toLowerCase()) {
			return { ok: false, failure: { reason: 'account_changed', account: connection.account } };
		}
		if (connection.status === 'reconnect') return { ok: false, failure: { reason: 'reconnect' } };
		const config = providerConfig(oauth, connection.provider, mailbox.sendVia);
		// Only a new consent helps: asking the provider would be refused (Microsoft) or narrow nothing.
		if (!grantCovers(config, connection.scope)) return { ok: false, failure: { reason: 'reconnect', scope: true } };
		const cached = options.forceRefresh ? null : await cachedToken(sealer, connection, now());
		if (cached) return { ok: true, accessToken: cached, account: connection.account, fromCache: true, forget: forgetter(db, connection) };

		const setup = providerSetup(oauth, connection.provider);
		if (!setup.configured) return { ok: false, failure: { reason: 'not_configured', missing: setup.missing } };
		const refreshToken = await sealer.open('oauth-refresh', { mailboxId: mailbox.id }, connection.sealedRefreshToken);
		if (!refreshToken.ok) return { ok: false, failure: { reason: 'undecryptable', lost: refreshToken.lost } };
		const refreshed = await refreshAccessToken(config, refreshToken.value);
		const at = now();
		if (!refreshed.ok) {
			if (refreshed.failure.kind !== 'invalid_grant') return { ok: false, failure: { reason: 'token_endpoint', failure: refreshed.failure } };
			// Refused: unless another invocation rotated the token meanwhile, the access is withdrawn.
			const latest = await findConnection(db, mailbox.id);
			if (attempt === 0 && latest && latest.sealedRefreshToken !== connection.sealedRefreshToken) {
				connection = latest;
				continue;
			}
			await markReconnect(db, mailbox.id, connection.sealedRefreshToken, new Date(at).toISOString());
			return { ok: false, failure: { reason: 'reconnect' } };
		}
		const { tokens } = refreshed;
		const sealedAccessToken = await sealer.seal('oauth-access', { mailboxId: mailbox.id }, tokens.accessToken);
		await recordRefresh(db, {
			mailboxId: mailbox.id,
			usedRefreshToken: connection.sealedRefreshToken,
			// RFC 6749 §6: a new refresh token replaces the old one; without one the old one stays.
			sealedRefreshToken: tokens.refreshToken ? await sealer.seal('oauth-refresh', { mailboxId: mailbox.id }, tokens.refreshToken) : connection.sealedRefreshToken,
			sealedAccessToken,
			accessExpiresAt: expiresAt(tokens, at),
			at: new Date(at).toISOString()
		});
		return {
			ok: true,
			accessToken: tokens.accessToken,
			account: connection.account,
			fromCache: false,
			forget: forgetter(db, { ...connection, sealedAccessToken })
		};
	}
}

/** The stored access token while it has more than a minute left. */
async function cachedToken(sealer: Sealer, connection: StoredConnection, at: number): Promise<string | null> {
	if (!connection.sealedAccessToken || connection.accessExpiresAt === null) return null;
	if (connection.accessExpiresAt - ACCESS_TOKEN_MARGIN_MS <= at) return null;
	// One that does not open is only a cache miss: the refresh token decides.
	const opened = await sealer.open('oauth-access', { mailboxId: connection.mailboxId }, connection.sealedAccessToken);
	return opened.ok ? opened.value : null;
}

/** After the SMTP server refused the token: drop it from the cache, so the next login gets a new one. */
function forgetter(db: D1Database, connection: StoredConnection): () => Promise<void> {
	return async () => {
		if (connection.sealedAccessToken) await forgetAccessToken(db, connection.mailboxId, connection.sealedAccessToken);
	};
}
