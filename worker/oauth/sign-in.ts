/**
 * SPEC §12 "Connecting": the authorization code flow with PKCE (S256). `startSignIn` keeps the
 * `state` (as its SHA-256) and the sealed code verifier in D1 for 10 minutes, bound to the
 * mailbox; `finishSignIn` runs on the provider's redirect to `/oauth/callback`, where the state is
 * the only credential (there is no admin token on a browser redirect): it is taken out of D1 in
 * the same statement that reads it, so it works once. The code is exchanged, the signed-in
 * account read from the ID token and compared with the mailbox's Account, and the refresh token
 * stored sealed with the scope granted. SPEC §14: the sign-in asks for the scope of the mailbox's
 * saved way of sending (Send through); a grant without it is a refused consent. Each outcome is a redirect to the mailbox page with `?oauth=connected` or
 * `?oauth=error&reason=…` (reasons in src/lib/schema/oauth.ts); a state Mailgate does not hold
 * (never made, used, or changed on the way) names no mailbox, so it leads to the start page.
 */
import { sha256Hex } from '../crypto/sha256';
import type { OAuthProvider } from '../../src/lib/schema/mailbox';
import type { OAuthErrorReason } from '../../src/lib/schema/oauth';
import { findMailbox, type StoredMailbox } from '../db/mailboxes';
import { countPendingSignIns, insertPendingSignIn, saveConnection, takePendingSignIn } from '../db/oauth';
import { authorizationUrl, checkRedirect, exchangeCode, newSecrets } from './client';
import { grantCovers, providerConfig, providerSetup } from './providers';
import { expiresAt, type OAuthDependencies } from './tokens';

/** SPEC §12: a sign-in link works for 10 minutes. */
export const SIGN_IN_TTL_MS = 10 * 60_000;
/** Sign-ins under way per mailbox: enough for a few tries, not for filling the table. */
export const PENDING_SIGN_INS_PER_MAILBOX = 10;
export const CALLBACK_PATH = '/oauth/callback';

/** Why a sign-in cannot start (api/oauth.ts answers each). */
export type StartRefusal =
	/** The provider's client settings are not all set: which are missing. */
	| { reason: 'not_configured'; missing: string[] }
	/** PENDING_SIGN_INS_PER_MAILBOX sign-ins of this mailbox are still under way. */
	| { reason: 'too_many' };

export type StartOutcome = { ok: true; authorizationUrl: string } | ({ ok: false } & StartRefusal);

/** A sign-in's dependencies: the OAuth ones and PUBLIC_ORIGIN ("" when unset) for the redirect URI. */
export type SignInDependencies = OAuthDependencies & { publicOrigin: string };

export async function startSignIn(
	{ db, oauth, sealer, publicOrigin }: SignInDependencies,
	options: { mailbox: StoredMailbox; provider: OAuthProvider; origin: string; now: Date }
): Promise<StartOutcome> {
	const { mailbox, provider, now } = options;
	const setup = providerSetup(oauth, provider);
	if (!setup.configured) {
		return { ok: false, reason: 'not_configured', missing: setup.missing };
	}
	if ((await countPendingSignIns(db, mailbox.id, now.getTime())) >= PENDING_SIGN_INS_PER_MAILBOX) {
		return { ok: false, reason: 'too_many' };
	}
	const config = providerConfig(oauth, provider, mailbox.smtp.sendVia);
	// Random only: the pending row (found by the state's hash) says which mailbox it is for.
	const { codeVerifier, state } = newSecrets();
	const redirectUri = new URL(CALLBACK_PATH, publicOrigin || options.origin).href;
	await insertPendingSignIn(
		db,
		{
			stateHash: await sha256Hex(state),
			mailboxId: mailbox.id,
			provider,
			sealedCodeVerifier: await sealer.seal('oauth-verifier', { mailboxId: mailbox.id }, codeVerifier),
			redirectUri,
			createdAt: now.toISOString(),
			expiresAt: now.getTime() + SIGN_IN_TTL_MS,
			scope: config.scope
		},
		now.getTime()
	);
	return { ok: true, authorizationUrl: await authorizationUrl(config, { state, codeVerifier, redirectUri, loginHint: mailbox.smtp.username }) };
}

/** What the callback tells the browser: where to go, and (for logs) what happened. */
export interface CallbackOutcome {
	location: string;
	mailboxId: string | null;
	provider: OAuthProvider | null;
	result: 'connected' | OAuthErrorReason;
	/** The provider's own error code, when it gave one (logged; never a token). */
	providerError?: string;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Who signed in, from the ID token's claims (issuer, audience and expiry checked by client.ts),
 * or why that cannot be trusted.
 * - Microsoft: `preferred_username`, the user's sign-in name (UPN) in their tenant, named by
 *   `tid` (the issuer was checked against that tenant). Not `email`: Entra ID lets users and
 *   tenant admins set it to any address, unverified (Microsoft's claims reference says not to
 *   use it for authorization). `upn` where a tenant sends it as an optional claim instead.
 * - Google: `email`, only with `email_verified: true` (OpenID Connect Core §5.1: otherwise
 *   the address was never shown to belong to the account).
 */
function signedInAccount(
	provider: OAuthProvider,
	claims: Record<string, unknown>
): { ok: true; account: string } | { ok: false; reason: 'no_account' | 'email_unverified' } {
	const address = (value: unknown): value is string => typeof value === 'string' && value.includes('@');
	if (provider === 'microsoft') {
		const account = [claims.preferred_username, claims.upn].find(address);
		return account && typeof claims.tid === 'string' && GUID.test(claims.tid) ? { ok: true, account } : { ok: false, reason: 'no_account' };
	}
	if (!address(claims.email)) return { ok: false, reason: 'no_account' };
	return claims.email_verified === true ? { ok: true, account: claims.email } : { ok: false, reason: 'email_unverified' };
}

export async function finishSignIn({ db, oauth, sealer }: OAuthDependencies, parameters: URLSearchParams, now: Date): Promise<CallbackOutcome> {
	const state = parameters.get('state') ?? '';
	const back = (mailboxId: string | null, query: Record<string, string>) =>
		`${mailboxId ? `/mailboxes/${encodeURIComponent(mailboxId)}` : '/'}?${new URLSearchParams({ oauth: query.reason ? 'error' : 'connected', ...query })}`;
	const fail = (mailboxId: string | null, provider: OAuthProvider | null, reason: OAuthErrorReason, extra: Record<string, string> = {}, providerError?: string): CallbackOutcome => ({
		location: back(mailboxId, { reason, ...(provider ? { provider } : {}), ...extra }),
		mailboxId,
		provider,
		result: reason,
		providerError
	});

	const pending = state ? await takePendingSignIn(db, await sha256Hex(state)) : null;
	if (!pending) return fail(null, null, 'link_used');
	const { mailboxId, provider } = pending;
	if (pending.expiresAt <= now.getTime()) return fail(mailboxId, provider, 'link_expired');
	const mailbox = await findMailbox(db, mailboxId);
	if (!mailbox) return fail(null, provider, 'link_used');
	if (!providerSetup(oauth, provider).configured) return fail(mailboxId, provider, 'not_configured');

	const config = providerConfig(oauth, provider, mailbox.smtp.sendVia);
	const redirect = checkRedirect(config, parameters, state);
	if (!redirect.ok) {
		// RFC 6749 §4.1.2.1 and OpenID Connect Core §3.1.2.6: the admin said no, or could not say yes.
		const refused = ['access_denied', 'consent_required', 'interaction_required', 'login_required'].includes(redirect.error);
		return fail(mailboxId, provider, refused ? 'consent_refused' : 'provider_error', {}, redirect.error);
	}
	// A verifier that no longer opens (SMTP_ENCRYPTION_KEY changed or unset since the start) is
	// the sealer's one outcome, `config`: start again (src/lib/schema/oauth.ts says so).
	const codeVerifier = await sealer.open('oauth-verifier', { mailboxId }, pending.sealedCodeVerifier);
	if (!codeVerifier.ok) return fail(mailboxId, provider, 'config', {}, codeVerifier.lost.reason);
	const exchanged = await exchangeCode(config, { parameters: redirect.parameters, redirectUri: pending.redirectUri, codeVerifier: codeVerifier.value });
	if (!exchanged.ok) {
		const failure = exchanged.failure;
		switch (failure.kind) {
			// The code was used already or is too old (RFC 6749 §5.2).
			case 'invalid_grant':
				return fail(mailboxId, provider, 'link_used', {}, 'invalid_grant');
			case 'client_rejected':
				return fail(mailboxId, provider, 'client_rejected', {}, failure.error);
			case 'unreachable':
				return fail(mailboxId, provider, 'provider_unreachable', {}, failure.message);
			case 'provider_error':
				return fail(mailboxId, provider, 'provider_error', {}, failure.error);
			case 'invalid_response':
				return fail(mailboxId, provider, 'provider_error', {}, failure.message);
		}
	}
	const { tokens, claims } = exchanged;
	const signedIn = signedInAccount(provider, claims);
	if (!signedIn.ok) return fail(mailboxId, provider, signedIn.reason);
	const { account } = signedIn;
	if (account.toLowerCase() !== mailbox.smtp.username.trim().toLowerCase()) return fail(mailboxId, provider, 'wrong_account', { account });
	if (!tokens.refreshToken) return fail(mailboxId, provider, 'no_refresh_token');
	// RFC 6749 §5.1: an answer without `scope` granted what was asked. A provider may grant less
	// (Google lets the user untick a permission): without the sending scope the grant cannot send.
	const scope = tokens.scope ?? pending.scope ?? config.scope;
	if (!grantCovers(config, scope)) return fail(mailboxId, provider, 'consent_refused', {}, 'scope_not_granted');

	const at = now.getTime();
	await saveConnection(db, {
		mailboxId,
		provider,
		account,
		sealedRefreshToken: await sealer.seal('oauth-refresh', { mailboxId }, tokens.refreshToken),
		connectedAt: now.toISOString(),
		status: 'connected',
		// The first access token is good for a while: the SMTP test right after connecting uses it.
		sealedAccessToken: await sealer.seal('oauth-access', { mailboxId }, tokens.accessToken),
		accessExpiresAt: expiresAt(tokens, at),
		scope
	});
	return { location: back(mailboxId, { provider }), mailboxId, provider, result: 'connected' };
}
