// A stand-in for Microsoft's and Google's OAuth 2.0 endpoints on this machine (SPEC §12), for the
// tests and for trying the sign-in with `npm start -- --oauth`. It plays both providers at
// /microsoft/… and /google/…: authorize (auto-consent as the login_hint account, or a refusal when
// told), and a token endpoint that checks the client credentials, the redirect URI and PKCE S256,
// takes each code once, issues RS256-signed ID tokens the way each provider does (Microsoft's
// per-tenant issuer and `tid`, Google's issuer), refreshes with rotation (the old refresh token
// stops working) and answers `invalid_grant` once a grant is revoked. `isValidAccessToken` lets an
// SMTP server on this machine accept exactly the access tokens it issued for SMTP (AUTH XOAUTH2).
// Each access token records its provider, account and scope: the sign-in's scope is what the
// authorize request asked for (auto-consent), and a refresh may ask for that or less, never more
// (`invalid_scope`: Microsoft issues tokens per resource, SPEC §14). It also serves Microsoft
// Graph's sendMail and the Gmail API's messages.send (scripts/local-provider-apis.mjs), checking
// those tokens. Control over HTTP, for the tests: POST /__control with { deny, signInAs, revoke,
// accessTokenSeconds, emailVerified, microsoftEmail, apiAnswers, apiDelayMs } and GET /__control
// for what it issued and the API requests it received.
// ID tokens carry what the providers put there for Mailgate's scopes: Microsoft `tid` and
// `preferred_username` (the UPN), plus an `email` only when told (`microsoftEmail`: Entra lets a
// user set it to anything); Google `email` with `email_verified` (true unless told otherwise).
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { SignJWT, generateKeyPair } from 'jose';
import { providerApis } from './local-provider-apis.mjs';

/** @typedef {'microsoft' | 'google'} Provider */

/** The tenant the stand-in's Microsoft accounts live in (ID tokens name it as `tid`). */
export const LOCAL_TENANT_ID = '9188040d-6c67-4c5b-b112-36a304b66dad';
/**
 * SPEC §14's other clouds: an authorize request with this (stand-in only) parameter signs in as
 * that cloud, whose ID tokens name its login host in their issuer (e.g. login.microsoftonline.us);
 * without it the issuer is the public cloud's, login.microsoftonline.com. Per sign-in, so a test
 * of another cloud changes nothing for sign-ins running beside it.
 */
export const MICROSOFT_LOGIN_HOST = 'stand_in_login_host';
/** The clients the stand-in knows; a Mailgate pointed at it uses these. */
export const LOCAL_CLIENTS = /** @type {const} */ ({
	microsoft: { id: 'mailgate-local-microsoft', secret: 'local-microsoft-secret' },
	google: { id: 'mailgate-local-google.apps.googleusercontent.com', secret: 'local-google-secret' }
});
/** A code is good for a minute, as the real providers' are (Microsoft: 10 minutes at most). */
const CODE_LIFETIME_MS = 60_000;
const PROVIDERS = /** @type {const} */ (['microsoft', 'google']);
/** The path prefix each provider's send API is served under (workerVars points Mailgate at it). */
const API_PREFIXES = /** @type {const} */ ({ graph: 'microsoft', gmail: 'google' });
/** The scope SMTP AUTH XOAUTH2 needs at each provider (SPEC §12). */
const SMTP_SCOPES = /** @type {const} */ ({ microsoft: 'https://outlook.office.com/SMTP.Send', google: 'https://mail.google.com/' });

/**
 * @typedef {object} Grant one sign-in's tokens: revoking it ends every token it issued
 * @property {Provider} provider
 * @property {string} account
 * @property {string[]} scopes what the user consented to (the authorize request's `scope`)
 * @property {boolean} revoked
 * @property {string} loginHost the host in Microsoft's ID token issuer (see MICROSOFT_LOGIN_HOST)
 */

/**
 * @typedef {object} OAuthStandIn
 * @property {string} origin
 * @property {Record<Provider, { authorize: string, token: string }>} endpoints
 * @property {() => Record<string, string>} workerVars the Worker settings that point Mailgate here
 * @property {(token: string, user: string) => boolean} isValidAccessToken an unexpired, unrevoked access token issued to `user` with its provider's SMTP scope
 * @property {(options: Settings) => void} configure
 * @property {(account: string) => number} revoke ends every grant of `account`; returns how many
 * @property {() => { codes: number, tokenRequests: TokenRequest[], refreshTokens: string[], accessTokens: string[] }} issued
 * @property {(provider: Provider, answers: import('./local-provider-apis.mjs').ScriptedAnswer[]) => void} scriptApi the next API requests of `provider` get these answers instead of their own (replaces what is still queued)
 * @property {() => import('./local-provider-apis.mjs').ApiRequest[]} apiRequests every Graph / Gmail send request received
 * @property {() => Promise<void>} close
 */

/**
 * @typedef {object} TokenRequest
 * @property {string} grant the grant_type
 * @property {Provider} provider
 * @property {boolean} ok
 * @property {string} [error]
 * @property {string} [scope] the scope asked for (a refresh's `scope`, or the sign-in's)
 */

/**
 * @typedef {object} Settings what the next sign-ins do
 * @property {boolean} [deny] refuse consent (access_denied)
 * @property {string | null} [signInAs] sign in as this account instead of the login_hint
 * @property {number} [accessTokenSeconds]
 * @property {boolean} [emailVerified] Google's `email_verified` (true by default)
 * @property {string | null} [microsoftEmail] an `email` claim in Microsoft's ID tokens (none by default)
 * @property {number} [apiDelayMs] how long every Graph / Gmail answer waits (0 by default)
 */

/**
 * @param {{ port?: number, host?: string, log?: (line: string) => void, accessTokenSeconds?: number, apiDelayMs?: number, relay?: import('./local-relay.mjs').Relay }} [options]
 *   relay: the running Mailgate whose service addresses get what the APIs accept for them
 * @returns {Promise<OAuthStandIn>}
 */
export async function startLocalOAuth(options = {}) {
	const host = options.host ?? '127.0.0.1';
	const log = options.log ?? (() => {});
	const { privateKey } = await generateKeyPair('RS256');
	/** @type {Required<Omit<Settings, 'apiDelayMs'>>} the API delay is kept with the APIs */
	const settings = { deny: false, signInAs: null, accessTokenSeconds: options.accessTokenSeconds ?? 3600, emailVerified: true, microsoftEmail: null };

	/** @type {Map<string, { provider: Provider, clientId: string, redirectUri: string, challenge: string, account: string, scope: string, loginHost: string, expires: number, used: boolean }>} */
	const codes = new Map();
	/** @type {Map<string, { grant: Grant, current: boolean }>} */
	const refreshTokens = new Map();
	/** @type {Map<string, { grant: Grant, expires: number, scopes: string[] }>} */
	const accessTokens = new Map();
	/** @type {TokenRequest[]} */
	const tokenRequests = [];
	/** @type {Grant[]} */
	const grants = [];

	const random = () => randomBytes(32).toString('base64url');

	/**
	 * @param {Provider} provider
	 * @param {string} clientId
	 * @param {string} account
	 * @param {string} loginHost
	 */
	const idToken = (provider, clientId, account, loginHost) => {
		const now = Math.floor(Date.now() / 1000);
		const sub = createHash('sha256').update(`${provider}:${account}`).digest('base64url').slice(0, 22);
		const claims =
			provider === 'microsoft'
				? { tid: LOCAL_TENANT_ID, preferred_username: account, name: account.split('@')[0], ver: '2.0', ...(settings.microsoftEmail ? { email: settings.microsoftEmail } : {}) }
				: { email: account, email_verified: settings.emailVerified };
		return new SignJWT(claims)
			.setProtectedHeader({ alg: 'RS256', kid: 'local-1', typ: 'JWT' })
			.setIssuer(provider === 'microsoft' ? `https://${loginHost}/${LOCAL_TENANT_ID}/v2.0` : 'https://accounts.google.com')
			.setAudience(clientId)
			.setSubject(sub)
			.setIssuedAt(now)
			.setExpirationTime(now + 3600)
			.sign(privateKey);
	};

	/**
	 * @param {Grant} grant
	 * @param {string[]} scopes what this access token is for (the grant's, or a refresh's subset)
	 */
	const issue = (grant, scopes) => {
		const accessToken = `at_${random()}`;
		accessTokens.set(accessToken, { grant, expires: Date.now() + settings.accessTokenSeconds * 1000, scopes });
		const refreshToken = `rt_${random()}`;
		refreshTokens.set(refreshToken, { grant, current: true });
		return { accessToken, refreshToken };
	};

	/**
	 * @param {import('node:http').ServerResponse} response
	 * @param {number} status
	 * @param {unknown} body
	 */
	const send = (response, status, body) => {
		response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
		response.end(JSON.stringify(body));
	};

	/**
	 * @param {Provider} provider
	 * @param {URL} url
	 * @param {import('node:http').ServerResponse} response
	 */
	const authorize = (provider, url, response) => {
		const q = (/** @type {string} */ name) => url.searchParams.get(name) ?? '';
		const redirectUri = q('redirect_uri');
		if (q('client_id') !== LOCAL_CLIENTS[provider].id || !/^https?:\/\//.test(redirectUri)) {
			response.writeHead(400, { 'content-type': 'text/plain' }).end('Unknown client or redirect URI (the stand-in shows this page instead of redirecting, as real providers do).');
			return;
		}
		const back = new URL(redirectUri);
		back.searchParams.set('state', q('state'));
		if (settings.deny) {
			back.searchParams.set('error', 'access_denied');
			back.searchParams.set('error_description', 'The user declined to consent.');
		} else if (q('response_type') !== 'code' || q('code_challenge_method') !== 'S256' || !q('code_challenge')) {
			back.searchParams.set('error', 'invalid_request');
			back.searchParams.set('error_description', 'The stand-in needs response_type=code and a PKCE S256 challenge.');
		} else {
			const code = `code_${random()}`;
			const account = settings.signInAs ?? (q('login_hint') || `someone@${provider}.example`);
			const loginHost = q(MICROSOFT_LOGIN_HOST) || 'login.microsoftonline.com';
			codes.set(code, { provider, clientId: q('client_id'), redirectUri, challenge: q('code_challenge'), account, scope: q('scope'), loginHost, expires: Date.now() + CODE_LIFETIME_MS, used: false });
			back.searchParams.set('code', code);
			log(`[local oauth] ${provider}: signed in as ${account}, sending the browser back`);
		}
		response.writeHead(302, { location: back.href, 'cache-control': 'no-store' }).end();
	};

	/**
	 * @param {Provider} provider
	 * @param {URLSearchParams} form
	 * @param {string | undefined} authorization
	 * @param {import('node:http').ServerResponse} response
	 */
	const token = async (provider, form, authorization, response) => {
		const grantType = form.get('grant_type') ?? '';
		const asked = form.get('scope') ?? undefined;
		const refuse = (/** @type {number} */ status, /** @type {string} */ error, /** @type {string} */ description) => {
			tokenRequests.push({ grant: grantType, provider, ok: false, error, ...(asked !== undefined ? { scope: asked } : {}) });
			send(response, status, { error, error_description: description });
		};
		// RFC 6749 §2.3.1: client_secret_post or client_secret_basic.
		let clientId = form.get('client_id') ?? '';
		let secret = form.get('client_secret') ?? '';
		if (authorization?.startsWith('Basic ')) {
			const [id = '', pass = ''] = Buffer.from(authorization.slice(6), 'base64').toString().split(':').map((part) => decodeURIComponent(part));
			clientId = id;
			secret = pass;
		}
		const client = LOCAL_CLIENTS[provider];
		if (clientId !== client.id || secret !== client.secret) return refuse(401, 'invalid_client', 'Unknown client or wrong client secret.');

		if (grantType === 'authorization_code') {
			const code = codes.get(form.get('code') ?? '');
			if (!code || code.provider !== provider || code.clientId !== clientId) return refuse(400, 'invalid_grant', 'Unknown authorization code.');
			if (code.used) return refuse(400, 'invalid_grant', 'The authorization code was already redeemed.');
			code.used = true;
			if (code.expires < Date.now()) return refuse(400, 'invalid_grant', 'The authorization code has expired.');
			if (form.get('redirect_uri') !== code.redirectUri) return refuse(400, 'invalid_grant', 'redirect_uri does not match the authorization request.');
			// RFC 7636 §4.6: BASE64URL(SHA256(code_verifier)) == code_challenge.
			const verifier = form.get('code_verifier') ?? '';
			if (createHash('sha256').update(verifier).digest('base64url') !== code.challenge) return refuse(400, 'invalid_grant', 'PKCE verification failed.');
			/** @type {Grant} */
			const grant = { provider, account: code.account, scopes: scopeList(code.scope), revoked: false, loginHost: code.loginHost };
			grants.push(grant);
			const { accessToken, refreshToken } = issue(grant, grant.scopes);
			tokenRequests.push({ grant: grantType, provider, ok: true, scope: code.scope });
			return send(response, 200, {
				token_type: 'Bearer',
				scope: code.scope,
				expires_in: settings.accessTokenSeconds,
				access_token: accessToken,
				refresh_token: refreshToken,
				id_token: await idToken(provider, clientId, code.account, code.loginHost)
			});
		}
		if (grantType === 'refresh_token') {
			const entry = refreshTokens.get(form.get('refresh_token') ?? '');
			if (!entry || entry.grant.provider !== provider) return refuse(400, 'invalid_grant', 'Unknown refresh token.');
			if (entry.grant.revoked) return refuse(400, 'invalid_grant', 'AADSTS50173: The provided grant has expired due to it being revoked.');
			if (!entry.current) return refuse(400, 'invalid_grant', 'The refresh token was already used (rotated).');
			// RFC 6749 §6: a refresh may narrow the scope, never widen it; Microsoft issues a token for
			// one resource, so a grant consented for Graph's Mail.Send is refused SMTP.Send (SPEC §14).
			const scopes = asked ? scopeList(asked) : entry.grant.scopes;
			const beyond = scopes.filter((scope) => !entry.grant.scopes.includes(scope));
			if (beyond.length > 0) return refuse(400, 'invalid_scope', `The grant was not consented for ${beyond.join(' ')}; sign in again to consent.`);
			// Rotation: the new refresh token replaces this one, which stops working.
			entry.current = false;
			const { accessToken, refreshToken } = issue(entry.grant, scopes);
			tokenRequests.push({ grant: grantType, provider, ok: true, ...(asked !== undefined ? { scope: asked } : {}) });
			return send(response, 200, {
				token_type: 'Bearer',
				scope: scopes.join(' '),
				expires_in: settings.accessTokenSeconds,
				access_token: accessToken,
				refresh_token: refreshToken,
				...(provider === 'microsoft' ? { id_token: await idToken(provider, clientId, entry.grant.account, entry.grant.loginHost) } : {})
			});
		}
		return refuse(400, 'unsupported_grant_type', `grant_type ${grantType} is not supported.`);
	};

	/** @param {string} account */
	const revoke = (account) => {
		let count = 0;
		for (const grant of grants) {
			if (grant.account.toLowerCase() === account.toLowerCase() && !grant.revoked) {
				grant.revoked = true;
				count++;
			}
		}
		if (count) log(`[local oauth] access revoked for ${account}`);
		return count;
	};

	/** @param {Settings} change */
	const configure = (change) => {
		if (change.deny !== undefined) settings.deny = change.deny;
		if (change.signInAs !== undefined) settings.signInAs = change.signInAs;
		if (change.accessTokenSeconds !== undefined) settings.accessTokenSeconds = change.accessTokenSeconds;
		if (change.emailVerified !== undefined) settings.emailVerified = change.emailVerified;
		if (change.microsoftEmail !== undefined) settings.microsoftEmail = change.microsoftEmail;
		if (Number.isFinite(change.apiDelayMs)) apis.setDelay(Number(change.apiDelayMs));
	};

	const apis = providerApis({
		log,
		relay: options.relay,
		delayMs: options.apiDelayMs ?? 0,
		lookupToken: (token) => {
			const entry = accessTokens.get(token);
			if (!entry) return null;
			const { provider, account, revoked } = entry.grant;
			return { provider, account, scopes: entry.scopes, revoked, expired: entry.expires <= Date.now() };
		}
	});

	const server = createServer((request, response) => {
		const url = new URL(request.url ?? '/', 'http://stand-in');
		const chunks = /** @type {Buffer[]} */ ([]);
		request.on('data', (/** @type {Buffer} */ chunk) => chunks.push(chunk));
		request.on('end', () => {
			const raw = Buffer.concat(chunks);
			const body = raw.toString('utf8');
			const [, first = '', second = ''] = url.pathname.split('/');
			const provider = /** @type {Provider} */ (first);
			if (first === '__control') {
				if (request.method === 'POST') return control(body, response);
				// Local only: the tests look for these tokens where they must never appear.
				return send(response, 200, {
					settings: { ...settings, apiDelayMs: apis.delay() },
					codes: codes.size,
					tokenRequests,
					refreshTokens: [...refreshTokens.keys()],
					accessTokens: [...accessTokens.keys()],
					apiRequests: apis.requests()
				});
			}
			if (first in API_PREFIXES) {
				const api = { method: request.method ?? '', authorization: request.headers.authorization ?? '', contentType: request.headers['content-type'] ?? '', body: raw };
				const apiProvider = API_PREFIXES[/** @type {keyof typeof API_PREFIXES} */ (first)];
				if (!apis.handle(apiProvider, url.pathname.slice(first.length + 1), api, response)) send(response, 404, { error: { code: 'ResourceNotFound', message: `No such API here: ${request.method} ${url.pathname}` } });
				return;
			}
			if (!PROVIDERS.includes(provider)) return send(response, 404, { error: 'not_found' });
			if (second === 'authorize' && request.method === 'GET') return authorize(provider, url, response);
			if (second === 'token' && request.method === 'POST') {
				token(provider, new URLSearchParams(body), request.headers.authorization, response).catch((/** @type {Error} */ error) =>
					send(response, 500, { error: 'server_error', error_description: error.message })
				);
				return;
			}
			send(response, 404, { error: 'not_found' });
		});
	});
	/**
	 * POST /__control: the settings, a revocation, scripted API answers.
	 * @param {string} body
	 * @param {import('node:http').ServerResponse} response
	 */
	const control = (body, response) => {
		/** @type {Settings & { revoke?: unknown, apiAnswers?: { provider?: unknown, answers?: unknown } }} */
		let change;
		try {
			change = body ? JSON.parse(body) : {};
		} catch {
			return send(response, 400, { error: 'The control body is not JSON.' });
		}
		const scripted = change.apiAnswers;
		if (scripted && (!PROVIDERS.includes(/** @type {Provider} */ (scripted.provider)) || !Array.isArray(scripted.answers) || !scripted.answers.every((a) => Number.isInteger(a?.status))))
			return send(response, 400, { error: 'apiAnswers needs { provider: "microsoft" | "google", answers: [{ status, body?, headers? }] }.' });
		configure(change);
		if (scripted) apis.script(/** @type {Provider} */ (scripted.provider), /** @type {any[]} */ (scripted.answers));
		const revoked = typeof change.revoke === 'string' ? revoke(change.revoke) : 0;
		return send(response, 200, { ok: true, revoked });
	};

	await new Promise((resolve, reject) => {
		server.once('error', reject);
		server.listen(options.port ?? 0, host, () => resolve(undefined));
	});
	const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
	const origin = `http://${host}:${port}`;
	const endpoints = /** @type {Record<Provider, { authorize: string, token: string }>} */ (
		Object.fromEntries(PROVIDERS.map((provider) => [provider, { authorize: `${origin}/${provider}/authorize`, token: `${origin}/${provider}/token` }]))
	);

	return {
		origin,
		endpoints,
		workerVars: () => ({
			OAUTH_MICROSOFT_CLIENT_ID: LOCAL_CLIENTS.microsoft.id,
			OAUTH_MICROSOFT_CLIENT_SECRET: LOCAL_CLIENTS.microsoft.secret,
			OAUTH_MICROSOFT_AUTHORIZE_URL: endpoints.microsoft.authorize,
			OAUTH_MICROSOFT_TOKEN_URL: endpoints.microsoft.token,
			OAUTH_GOOGLE_CLIENT_ID: LOCAL_CLIENTS.google.id,
			OAUTH_GOOGLE_CLIENT_SECRET: LOCAL_CLIENTS.google.secret,
			OAUTH_GOOGLE_AUTHORIZE_URL: endpoints.google.authorize,
			OAUTH_GOOGLE_TOKEN_URL: endpoints.google.token,
			OAUTH_MICROSOFT_GRAPH_URL: `${origin}/graph`,
			OAUTH_GOOGLE_GMAIL_URL: `${origin}/gmail`
		}),
		isValidAccessToken(token, user) {
			const entry = accessTokens.get(token);
			return Boolean(
				entry &&
					!entry.grant.revoked &&
					entry.expires > Date.now() &&
					entry.grant.account.toLowerCase() === user.toLowerCase() &&
					entry.scopes.includes(SMTP_SCOPES[entry.grant.provider])
			);
		},
		configure,
		revoke,
		scriptApi: apis.script,
		apiRequests: apis.requests,
		issued: () => ({
			codes: codes.size,
			tokenRequests: [...tokenRequests],
			refreshTokens: [...refreshTokens.keys()],
			accessTokens: [...accessTokens.keys()]
		}),
		close: () =>
			new Promise((resolve) => {
				server.closeAllConnections();
				server.close(() => resolve(undefined));
			})
	};
}

/** @param {string} scope space-separated, as OAuth sends it (RFC 6749 §3.3) */
function scopeList(scope) {
	return scope.split(' ').filter(Boolean);
}
