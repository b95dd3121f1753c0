/**
 * SPEC §12's two OAuth 2.0 providers as configuration: endpoints, scopes, the client, and who
 * issues their ID tokens; SPEC §14's sending APIs and the scope each way of sending needs. Pure:
 * the Worker's settings in, plain values out. The endpoints can be replaced
 * (OAUTH_{MICROSOFT,GOOGLE}_{AUTHORIZE,TOKEN}_URL, OAUTH_MICROSOFT_GRAPH_URL, OAUTH_GOOGLE_GMAIL_URL)
 * for another cloud, a test provider or `npm start -- --oauth`; only `https://` is accepted, or
 * `http://` on this machine (loopback).
 */
import type { OAuthProvider, SendVia } from '../../src/lib/schema/mailbox';
import type { OAuthProviderSetup } from '../../src/lib/schema/oauth';
import type { Config } from '../config';

export interface ProviderConfig {
	provider: OAuthProvider;
	clientId: string;
	clientSecret: string;
	authorizeUrl: string;
	tokenUrl: string;
	/** The way of sending this configuration asks tokens for (SPEC §14). */
	sendVia: SendVia;
	/** SPEC §12 and §14: what the sign-in and a refresh ask for: the method's sending scope, a refresh token (offline access) and the signed-in address. */
	scope: string;
	/** The one scope in `scope` that lets a token send by `sendVia` (`grantCovers` looks for it). */
	sendingScope: string;
	/** SPEC §14: the sending API's origin, Microsoft Graph or the Gmail API (no trailing slash). */
	apiUrl: string;
	/** Extra authorization request parameters the provider needs for a refresh token. */
	authorizeParameters: Record<string, string>;
	/** Microsoft: the configured tenant (`organizations` when unset). */
	tenant: string;
}

/** Microsoft's default: any work or school account (Microsoft 365); personal accounts have no SMTP AUTH for other apps. */
export const DEFAULT_MICROSOFT_TENANT = 'organizations';

/** SPEC §14: the sending APIs' public origins. */
export const MICROSOFT_GRAPH_URL = 'https://graph.microsoft.com';
export const GMAIL_API_URL = 'https://gmail.googleapis.com';

/** The scope that lets a token send, per provider and method (SPEC §12, §14). */
const SENDING_SCOPES: Record<OAuthProvider, Record<SendVia, string>> = {
	// SMTP AUTH on Exchange Online; Graph's delegated Mail.Send (sendMail as the signed-in user).
	microsoft: { smtp: 'https://outlook.office.com/SMTP.Send', api: 'https://graph.microsoft.com/Mail.Send' },
	// Gmail's SMTP needs the full mail scope (there is no send-only scope for SMTP XOAUTH2), a
	// restricted scope (verification plus a yearly security assessment); the API sends with
	// gmail.send, a sensitive scope without the assessment.
	google: { smtp: 'https://mail.google.com/', api: 'https://www.googleapis.com/auth/gmail.send' }
};
/**
 * What either method asks for besides: Microsoft offline_access for a refresh token, openid and
 * profile for the ID token's preferred_username (the account, see sign-in.ts: Microsoft sends it
 * only with profile), email as SPEC §12 lists it, though its `email` claim is never trusted.
 * Google: openid and email (its refresh token comes from access_type=offline).
 */
const IDENTITY_SCOPES: Record<OAuthProvider, string> = { microsoft: 'offline_access openid profile email', google: 'openid email' };

/** SPEC §14's scope for a provider and a way of sending (the public cloud's). */
export function scopeFor(provider: OAuthProvider, sendVia: SendVia): string {
	return `${SENDING_SCOPES[provider][sendVia]} ${IDENTITY_SCOPES[provider]}`;
}

/**
 * Graph's Mail.Send names its resource: another cloud's Graph (Azure Government
 * `https://graph.microsoft.us`, Azure China `https://microsoftgraph.chinacloudapi.cn`) is asked for
 * its own. A loopback Graph (tests, `npm start -- --oauth`) stands in for the public one.
 */
function graphSendingScope(apiUrl: string): string {
	const url = URL.parse(apiUrl);
	return url?.protocol === 'https:' ? `${url.origin}/Mail.Send` : SENDING_SCOPES.microsoft.api;
}

/** The providers' settings as worker/config.ts reads them (trimmed; "" when unset). */
type OAuthSettings = Config['oauth'];

/** The provider's settings for sending by `sendVia`, whether or not they are complete (see `providerSetup`). */
export function providerConfig(settings: OAuthSettings, provider: OAuthProvider, sendVia: SendVia = 'smtp'): ProviderConfig {
	const withScope = (apiUrl: string, sendingScope: string) => ({
		sendVia,
		apiUrl: apiUrl.replace(/\/+$/, ''),
		sendingScope,
		scope: `${sendingScope} ${IDENTITY_SCOPES[provider]}`
	});
	if (provider === 'microsoft') {
		const tenant = settings.OAUTH_MICROSOFT_TENANT || DEFAULT_MICROSOFT_TENANT;
		const base = `https://login.microsoftonline.com/${encodeURIComponent(tenant)}/oauth2/v2.0`;
		const apiUrl = settings.OAUTH_MICROSOFT_GRAPH_URL || MICROSOFT_GRAPH_URL;
		return {
			provider,
			clientId: settings.OAUTH_MICROSOFT_CLIENT_ID,
			clientSecret: settings.OAUTH_MICROSOFT_CLIENT_SECRET,
			authorizeUrl: settings.OAUTH_MICROSOFT_AUTHORIZE_URL || `${base}/authorize`,
			tokenUrl: settings.OAUTH_MICROSOFT_TOKEN_URL || `${base}/token`,
			...withScope(apiUrl, sendVia === 'api' ? graphSendingScope(apiUrl) : SENDING_SCOPES.microsoft.smtp),
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
		...withScope(settings.OAUTH_GOOGLE_GMAIL_URL || GMAIL_API_URL, SENDING_SCOPES.google[sendVia]),
		// Google returns a refresh token only for offline access, and again only when consent is asked.
		authorizeParameters: { access_type: 'offline', prompt: 'consent' },
		tenant: ''
	};
}

/**
 * SPEC §14: whether a grant's scope (space-separated, as the provider granted it) lets tokens send
 * by `config`'s method. A grant made before (null) was asked for the provider's SMTP scope. Graph
 * names its own scopes without the resource in token responses ("Mail.Send"), so the bare name
 * counts for Microsoft. Google's mail.google.com would also let the API send, but a switch to the
 * API asks for gmail.send anyway: the restricted scope is what the switch is for leaving.
 */
export function grantCovers(config: Pick<ProviderConfig, 'provider' | 'sendingScope'>, granted: string | null): boolean {
	const listed = (granted ?? scopeFor(config.provider, 'smtp')).toLowerCase().split(/\s+/);
	const wanted = config.sendingScope.toLowerCase();
	return listed.includes(wanted) || (config.provider === 'microsoft' && listed.includes(wanted.slice(wanted.lastIndexOf('/') + 1)));
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
	if (!usableEndpoint(config.apiUrl)) missing.push(`${prefix(provider)}_${provider === 'microsoft' ? 'GRAPH' : 'GMAIL'}_URL (https://)`);
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

/** Microsoft Entra ID's worldwide sign-in host. */
export const PUBLIC_MICROSOFT_LOGIN_HOST = 'login.microsoftonline.com';

/**
 * SPEC §14: the host Microsoft's ID tokens are issued under, that of the configured authorization
 * endpoint: another cloud issues under its own (Azure Government `login.microsoftonline.us`,
 * Azure China `login.chinacloudapi.cn`). A loopback `http://` endpoint is a stand-in for the
 * public cloud (tests, `npm start -- --oauth`) and keeps its issuer.
 */
export function microsoftLoginHost(config: Pick<ProviderConfig, 'authorizeUrl'>): string {
	const url = URL.parse(config.authorizeUrl);
	return url?.protocol === 'https:' ? url.host.toLowerCase() : PUBLIC_MICROSOFT_LOGIN_HOST;
}

/**
 * Who may have issued an ID token from this provider (OpenID Connect Core §3.1.3.7 item 2), given
 * the claims it carries. Microsoft's multi-tenant endpoints (`organizations`, `common`) issue
 * tokens under the signing-in user's own tenant, `https://{login host}/{tid}/v2.0`; a configured
 * tenant id must be that tenant. Google writes its issuer with or without the scheme.
 */
export function expectedIssuer(config: ProviderConfig, claims: { iss?: unknown; tid?: unknown }): string {
	if (config.provider === 'google') {
		return claims.iss === 'accounts.google.com' ? 'accounts.google.com' : 'https://accounts.google.com';
	}
	const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
	const tenant = GUID.test(config.tenant) ? config.tenant.toLowerCase() : typeof claims.tid === 'string' ? claims.tid : config.tenant;
	return `https://${microsoftLoginHost(config)}/${tenant}/v2.0`;
}
