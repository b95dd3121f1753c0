/**
 * The OAuth 2.0 client calls of SPEC §12, through oauth4webapi (pinned): building the
 * authorization URL (code flow with PKCE S256), checking the provider's redirect, exchanging the
 * code (the ID token's claims checked: issuer, audience, expiry) and refreshing an access token.
 * Everything oauth4webapi-specific is in this file; outcomes are values, never exceptions.
 */
import * as oauth from 'oauth4webapi';
import { base64UrlToText } from '../mail/base64';
import { expectedIssuer, isLoopback, microsoftLoginHost, type ProviderConfig } from './providers';

/** How long one request to the provider's token endpoint may take. */
export const TOKEN_REQUEST_TIMEOUT_MS = 8_000;

/** What the token endpoint gave. Tokens stay in memory only until they are sealed. */
export interface Tokens {
	accessToken: string;
	/** Seconds, as the provider said (RFC 6749 §5.1); absent means unknown. */
	expiresIn: number | null;
	/** A new (rotated) refresh token, when the provider sent one. */
	refreshToken: string | null;
	/** The scope granted, when the provider said (RFC 6749 §5.1: absent means the one asked for). */
	scope: string | null;
}

export type TokenFailure =
	/** The grant is no longer good (RFC 6749 §5.2 `invalid_grant`): expired, revoked, used. */
	| { kind: 'invalid_grant'; description: string }
	/** The provider refused Mailgate's client id or secret. */
	| { kind: 'client_rejected'; error: string; description: string }
	/** Any other OAuth error the provider answered. */
	| { kind: 'provider_error'; error: string; description: string }
	/** No answer, a timeout, or an answer that is not OAuth. */
	| { kind: 'unreachable'; message: string }
	/** The answer broke the rules (an ID token from another issuer or for another client). */
	| { kind: 'invalid_response'; message: string };

export type TokenResult<T> = ({ ok: true } & T) | { ok: false; failure: TokenFailure };

const client = (config: ProviderConfig): oauth.Client => ({ client_id: config.clientId });
const server = (config: ProviderConfig, issuer: string): oauth.AuthorizationServer => ({
	issuer,
	authorization_endpoint: config.authorizeUrl,
	token_endpoint: config.tokenUrl
});

function requestOptions(config: ProviderConfig, extra: Record<string, string> = {}): oauth.TokenEndpointRequestOptions {
	const options: oauth.TokenEndpointRequestOptions = {
		signal: () => AbortSignal.timeout(TOKEN_REQUEST_TIMEOUT_MS),
		additionalParameters: extra
	};
	// Plain http only to a provider on this machine (providers.ts accepts nothing else).
	if (new URL(config.tokenUrl).protocol === 'http:' && isLoopback(new URL(config.tokenUrl).hostname)) {
		// eslint-disable-next-line @typescript-eslint/no-deprecated
		(options as Record<symbol, unknown>)[oauth.allowInsecureRequests] = true;
	}
	return options;
}

/** A new PKCE verifier (RFC 7636 §4.1) and `state` (RFC 6749 §10.12), both 32 random bytes. */
export function newSecrets(): { codeVerifier: string; state: string } {
	return { codeVerifier: oauth.generateRandomCodeVerifier(), state: oauth.generateRandomState() };
}

/** The URL the admin's browser goes to: code flow, S256 challenge, the mailbox's Account as hint. */
export async function authorizationUrl(
	config: ProviderConfig,
	request: { state: string; codeVerifier: string; redirectUri: string; loginHint: string }
): Promise<string> {
	const url = new URL(config.authorizeUrl);
	const parameters: Record<string, string> = {
		client_id: config.clientId,
		response_type: 'code',
		redirect_uri: request.redirectUri,
		scope: config.scope,
		state: request.state,
		code_challenge: await oauth.calculatePKCECodeChallenge(request.codeVerifier),
		code_challenge_method: 'S256',
		...config.authorizeParameters
	};
	if (request.loginHint) parameters.login_hint = request.loginHint;
	for (const [name, value] of Object.entries(parameters)) url.searchParams.set(name, value);
	return url.href;
}

/** The provider's redirect as oauth4webapi checks it: an error answer (RFC 6749 §4.1.2.1) or a code. */
export function checkRedirect(
	config: ProviderConfig,
	parameters: URLSearchParams,
	state: string
): { ok: true; parameters: URLSearchParams } | { ok: false; error: string; description: string } {
	// RFC 9207: a provider that names itself in the redirect must be this provider.
	const iss = parameters.get('iss') ?? undefined;
	const issuer = iss && acceptsIssuer(config, iss) ? iss : expectedIssuer(config, {});
	try {
		return { ok: true, parameters: oauth.validateAuthResponse(server(config, issuer), client(config), parameters, state) };
	} catch (error) {
		if (error instanceof oauth.AuthorizationResponseError) return { ok: false, error: error.error, description: error.error_description ?? '' };
		return { ok: false, error: 'invalid_response', description: messageOf(error) };
	}
}

function acceptsIssuer(config: ProviderConfig, iss: string): boolean {
	if (config.provider === 'google') return iss === 'https://accounts.google.com' || iss === 'accounts.google.com';
	// Any tenant, under the configured cloud's sign-in host (SPEC §14).
	const match = /^https:\/\/([^/]+)\/[0-9a-f-]{36}\/v2\.0$/i.exec(iss);
	return match?.[1]?.toLowerCase() === microsoftLoginHost(config);
}

/**
 * Exchanges the code (RFC 6749 §4.1.3, with the PKCE verifier) and returns the tokens and the ID
 * token's claims, validated by oauth4webapi against the issuer this provider uses for the tenant
 * the token names (see `expectedIssuer`). The ID token comes straight from the token endpoint over
 * TLS, so its signature need not be checked (OpenID Connect Core §3.1.3.7 item 6).
 */
export async function exchangeCode(
	config: ProviderConfig,
	request: { parameters: URLSearchParams; redirectUri: string; codeVerifier: string }
): Promise<TokenResult<{ tokens: Tokens; claims: Record<string, unknown> }>> {
	let response: Response;
	try {
		response = await oauth.authorizationCodeGrantRequest(
			server(config, expectedIssuer(config, {})),
			client(config),
			oauth.ClientSecretPost(config.clientSecret),
			request.parameters,
			request.redirectUri,
			request.codeVerifier,
			requestOptions(config)
		);
	} catch (error) {
		return { ok: false, failure: { kind: 'unreachable', message: messageOf(error) } };
	}
	const issuer = expectedIssuer(config, await peekIdTokenClaims(response));
	try {
		const result = await oauth.processAuthorizationCodeResponse(server(config, issuer), client(config), response, { requireIdToken: true });
		const claims = oauth.getValidatedIdTokenClaims(result) ?? {};
		return { ok: true, tokens: tokensOf(result), claims: { ...claims } };
	} catch (error) {
		return { ok: false, failure: failureOf(error) };
	}
}

/** Gets a new access token with the refresh token (RFC 6749 §6). */
export async function refreshAccessToken(config: ProviderConfig, refreshToken: string): Promise<TokenResult<{ tokens: Tokens }>> {
	const as = server(config, expectedIssuer(config, {}));
	let response: Response;
	try {
		// Microsoft wants the scopes again on refresh, the method's own (SPEC §14: it issues tokens per
		// resource, so a Graph grant refreshed for SMTP.Send is refused); Google ignores them.
		response = await oauth.refreshTokenGrantRequest(as, client(config), oauth.ClientSecretPost(config.clientSecret), refreshToken, requestOptions(config, { scope: config.scope }));
	} catch (error) {
		return { ok: false, failure: { kind: 'unreachable', message: messageOf(error) } };
	}
	// A refresh answer may carry a new ID token (Microsoft does, for openid): checked like the first.
	const issuer = expectedIssuer(config, await peekIdTokenClaims(response));
	try {
		return { ok: true, tokens: tokensOf(await oauth.processRefreshTokenResponse(server(config, issuer), client(config), response)) };
	} catch (error) {
		return { ok: false, failure: failureOf(error) };
	}
}

function tokensOf(result: oauth.TokenEndpointResponse): Tokens {
	return {
		accessToken: result.access_token,
		expiresIn: typeof result.expires_in === 'number' ? result.expires_in : null,
		refreshToken: typeof result.refresh_token === 'string' && result.refresh_token ? result.refresh_token : null,
		scope: typeof result.scope === 'string' && result.scope.trim() ? result.scope.trim() : null
	};
}

function failureOf(error: unknown): TokenFailure {
	if (error instanceof oauth.ResponseBodyError) {
		const description = error.error_description ?? '';
		if (error.error === 'invalid_grant') return { kind: 'invalid_grant', description };
		if (error.error === 'invalid_client' || error.error === 'unauthorized_client') return { kind: 'client_rejected', error: error.error, description };
		// A provider that cannot serve right now (RFC 6749 §5.2 has no such code; providers use these).
		if (error.status >= 500 || error.error === 'temporarily_unavailable' || error.error === 'server_error') {
			return { kind: 'unreachable', message: `${error.error}: ${description}`.trim() };
		}
		return { kind: 'provider_error', error: error.error, description };
	}
	if (error instanceof oauth.WWWAuthenticateChallengeError) return { kind: 'client_rejected', error: 'invalid_client', description: error.message };
	if (error instanceof oauth.OperationProcessingError && error.code === oauth.RESPONSE_IS_NOT_CONFORM) {
		return { kind: 'unreachable', message: error.message };
	}
	return { kind: 'invalid_response', message: messageOf(error) };
}

/** The claims of the ID token in a token response, unchecked: only to pick the issuer to check it against. */
async function peekIdTokenClaims(response: Response): Promise<Record<string, unknown>> {
	const body = await response.clone().json().catch(() => null);
	return claimsOf(body && typeof body === 'object' ? (body as { id_token?: unknown }).id_token : undefined);
}

function claimsOf(jwt: unknown): Record<string, unknown> {
	if (typeof jwt !== 'string') return {};
	try {
		const payload = jwt.split('.')[1] ?? '';
		const claims: unknown = JSON.parse(base64UrlToText(payload));
		return claims && typeof claims === 'object' ? (claims as Record<string, unknown>) : {};
	} catch {
		return {};
	}
}

function messageOf(error: unknown): string {
	return error instanceof Error ? error.message : String(error);
}
