/**
 * SPEC §12's two OAuth 2.0 providers as configuration: endpoints, scopes, the client, and who
 * issues their ID tokens. Pure: the Worker's settings in, plain values out. The endpoints can be
 * replaced (OAUTH_{MICROSOFT,GOOGLE}_{AUTHORIZE,TOKEN}_URL) for another cloud, a test provider or
 * `npm start -- --oauth`; only `https://` is accepted, or `http://` on this machine (loopback).
 */
import type { OAuthProvider } from '../../src/lib/schema/mailbox';
import type { OAuthProviderSetup } from '../../src/lib/schema/oauth';
import type { Config } from '../config';

export interface ProviderConfig {
	provider: OAuthProvider;
	clientId: string;
	clientSecret: string;
	authorizeUrl: string;
	tokenUrl: string;
	/** SPEC §12: SMTP submission, a refresh token (offline access) and the signed-in address. */
	scope: string;
	/** Extra authorization request parameters the provider needs for a refresh token. */
	authorizeParameters: Record<string, string>;
	/** Microsoft: the configured tenant (`organizations` when unset). */
	tenant: string;
}

/** Microsoft's default: any work or school account (Microsoft 365); personal accounts have no SMTP AUTH for other apps. */
export const DEFAULT_MICROSOFT_TENANT = 'organizations';

const SCOPES: Record<OAuthProvider, string> = {
	// SMTP.Send on Exchange Online; offline_access for a refresh token; openid and profile for the
	// ID token's preferred_username (the account, see sign-in.ts: Microsoft sends it only with
	// profile); email as SPEC §12 lists it, though its `email` claim is never trusted.
	microsoft: 'https://outlook.office.com/SMTP.Send offline_access openid profile email',
	// Gmail's SMTP needs the full mail scope (there is no send-only scope for SMTP XOAUTH2).
	google: 'https://mail.google.com/ openid email'
};

/** The providers' settings as worker/config.ts reads them (trimmed; "" when unset). */
type OAuthSettings = Config['oauth'];

/** The provider's settings, whether or not they are complete (see `providerSetup`). */
export function providerConfig(settings: OAuthSettings, provider: OAuthProvider): ProviderConfig {
	if (provider === 'microsoft') {
		const tenant = settings.OAUTH_MICROSOFT_TENANT || DEFAULT_MICROSOFT_TENANT;
		const base = `https://login.microsoftonline.com/${encodeURIComponent(tenant)}/oauth2/v2.0`;
		return {
			provider,
			clientId: settings.OAUTH_MICROSOFT_CLIENT_ID,
			clientSecret: settings.OAUTH_MICROSOFT_CLIENT_SECRET,
			authorizeUrl: settings.OAUTH_MICROSOFT_AUTHORIZE_URL || `${base}/authorize`,
			tokenUrl: settings.OAUTH_MICROSOFT_TOKEN_URL || `${base}/token`,
			scope: SCOPES.microsoft,
			authorizeParameters: {},
			tenant
		};
	}
	return {
		provider,
		clientId: settings.OAUTH_GOOGLE_CLIENT_ID,
		clientSecret: settings.OAUTH_GOOGLE_CLIENT_SECRET,
		authorizeUrl: settings.OAUTH_GOOGLE_AUTHORIZE_URL || 'https://accounts.google.com/o/oauth2/v2/auth',
		tokenUrl: settings.OAUTH_GOOGLE_TOKEN_URL || 'https://oauth2.googleapis.com/token',
		scope: SCOPES.google,
		// Google returns a refresh token only for offline access, and again only when consent is asked.
		authorizeParameters: { access_type: 'offline', prompt: 'consent' },
		tenant: ''
	};
}

const prefix = (provider: OAuthProvider) => (provider === 'microsoft' ? 'OAUTH_MICROSOFT' : 'OAUTH_GOOGLE');

/**
 * Whether sign-in with `provider` can work, and the settings to set when not: the client id and
 * secret (a web app's code exchange needs both), and endpoints that are https (or loopback).
 */
export function providerSetup(settings: OAuthSettings, provider: OAuthProvider): OAuthProviderSetup {
	const config = providerConfig(settings, provider);
	const missing: string[] = [];
	if (!config.clientId) missing.push(`${prefix(provider)}_CLIENT_ID`);
	if (!config.clientSecret) missing.push(`${prefix(provider)}_CLIENT_SECRET`);
	if (!usableEndpoint(config.authorizeUrl)) missing.push(`${prefix(provider)}_AUTHORIZE_URL (https://)`);
	if (!usableEndpoint(config.tokenUrl)) missing.push(`${prefix(provider)}_TOKEN_URL (https://)`);
	return { configured: missing.length === 0, missing };
}

/** https anywhere; plain http only to this machine (the test provider, `npm start -- --oauth`). */
export function usableEndpoint(url: string): boolean {
	let parsed: URL;
	try {
		parsed = new URL(url);
	} catch {
		return false;
	}
	return parsed.protocol === 'https:' || (parsed.protocol === 'http:' && isLoopback(parsed.hostname));
}

export function isLoopback(hostname: string): boolean {
	return hostname === 'localhost' || hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(hostname);
}

/**
 * Who may have issued an ID token from this provider (OpenID Connect Core §3.1.3.7 item 2), given
 * the claims it carries. Microsoft's multi-tenant endpoints (`organizations`, `common`) issue
 * tokens under the signing-in user's own tenant, `https://login.microsoftonline.com/{tid}/v2.0`;
 * a configured tenant id must be that tenant. Google writes its issuer with or without the scheme.
 */
export function expectedIssuer(config: ProviderConfig, claims: { iss?: unknown; tid?: unknown }): string {
	if (config.provider === 'google') {
		return claims.iss === 'accounts.google.com' ? 'accounts.google.com' : 'https://accounts.google.com';
	}
	const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
	const tenant = GUID.test(config.tenant) ? config.tenant.toLowerCase() : typeof claims.tid === 'string' ? claims.tid : config.tenant;
	return `https://login.microsoftonline.com/${tenant}/v2.0`;
}
