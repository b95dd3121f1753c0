/**
 * Every /api route needs the admin token or, when configured, a Cloudflare Access JWT signed
 * by the team's keys (served over HTTP on loopback by global-setup.ts).
 */
import { env } from 'cloudflare:test';
import { SignJWT, generateKeyPair, importJWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { equalInConstantTime } from '../../worker/auth/authenticate';
import { routes } from '../../worker/api/router';
import { TOKEN, call, createIntegration, fetchWithEnv } from './helpers';

const ROUTES: Array<[string, string]> = [
	['GET', '/api/integrations'],
	['POST', '/api/integrations'],
	['GET', '/api/integrations/some-id'],
	['PATCH', '/api/integrations/some-id'],
	['DELETE', '/api/integrations/some-id'],
	['GET', '/api/mailboxes'],
	['POST', '/api/mailboxes'],
	['GET', '/api/mailboxes/some-id'],
	['PATCH', '/api/mailboxes/some-id'],
	['DELETE', '/api/mailboxes/some-id'],
	['GET', '/api/no-such-route'],
	['GET', '/api']
];

describe('route scopes', () => {
	// route.ts makes `scope` required, so a route without one does not compile; this walks the
	// table as it runs, so a scope that is missing or misspelt at run time fails here too, and
	// every admin route (whatever its path) is checked to refuse an API key.
	it('every method of every route names its scope, and every admin one refuses an API key (403)', async () => {
		const integration = await createIntegration();
		const key = (await call('POST', `/api/integrations/${integration.id}/keys`, { body: { name: 'Scope walk' } })).body.key as string;
		let admin = 0;
		for (const { pattern, methods } of routes) {
			for (const [method, endpoint] of Object.entries(methods)) {
				const path = pattern.pathname.replace(/:(\w+)/g, (_, name: string) => (name === 'id' ? integration.id : 'x'));
				expect(['admin', 'list', 'mailbox', 'message', 'outbound'], `${method} ${path}`).toContain(endpoint?.scope);
				if (endpoint?.scope !== 'admin') continue;
				admin += 1;
				const answer = await call(method, path, { token: key, body: method === 'GET' || method === 'DELETE' ? undefined : {} });
				expect(answer.status, `${method} ${path}`).toBe(403);
				expect(answer.body.error.code).toBe('forbidden');
			}
		}
		expect(admin).toBeGreaterThan(20);
	});
});

describe('admin token', () => {
	it.each(ROUTES)('%s %s without a token is 401 in the error shape', async (method, path) => {
		const answer = await call(method, path, { token: null, body: method === 'POST' || method === 'PATCH' ? { name: 'x' } : undefined });
		expect(answer.status).toBe(401);
		expect(answer.body.error.code).toBe('unauthorized');
		expect(answer.headers.get('www-authenticate')).toContain('Bearer');
	});

	it.each([
		['a wrong token', 'Bearer wrong-token'],
		['a token one character short', `Bearer ${TOKEN.slice(0, -1)}`],
		['the token with a suffix', `Bearer ${TOKEN}x`],
		['another scheme', `Basic ${btoa(`admin:${TOKEN}`)}`],
		['the bare token', TOKEN],
		['an empty bearer', 'Bearer ']
	])('refuses %s', async (_name, authorization) => {
		const answer = await call('GET', '/api/mailboxes', { token: null, headers: { authorization } });
		expect(answer.status).toBe(401);
	});

	it('accepts the token, whatever the case of the scheme', async () => {
		expect((await call('GET', '/api/mailboxes', { token: null, headers: { authorization: `bearer ${TOKEN}` } })).status).toBe(200);
		expect((await call('GET', '/api/mailboxes')).status).toBe(200);
	});

	it('refuses everything when no ADMIN_TOKEN is configured, and says why', async () => {
		const response = await fetchWithEnv(
			new Request('https://mailgate.test/api/mailboxes', { headers: { authorization: 'Bearer ' } }),
			{ ADMIN_TOKEN: undefined }
		);
		expect(response.status).toBe(401);
		expect(JSON.stringify(await response.json())).toContain('No ADMIN_TOKEN is configured');
	});

	it('compares secrets correctly', async () => {
		expect(await equalInConstantTime('same', 'same')).toBe(true);
		expect(await equalInConstantTime('same', 'Same')).toBe(false);
		expect(await equalInConstantTime('short', 'a much longer secret')).toBe(false);
	});
});

describe('Cloudflare Access JWT', () => {
	const AUD = 'mailgate-test-audience';
	const accessEnv = { ACCESS_TEAM_DOMAIN: env.ACCESS_JWKS_ORIGIN, ACCESS_AUD: AUD };

	async function sign(claims: { aud?: string; iss?: string; exp?: string | number; key?: CryptoKey; kid?: string } = {}) {
		const jwk = JSON.parse(env.ACCESS_TEST_PRIVATE_JWK);
		const key = claims.key ?? ((await importJWK(jwk, 'RS256')) as CryptoKey);
		return new SignJWT({ email: 'admin@acme.example.com' })
			.setProtectedHeader({ alg: 'RS256', kid: claims.kid ?? jwk.kid })
			.setIssuer(claims.iss ?? env.ACCESS_JWKS_ORIGIN)
			.setAudience(claims.aud ?? AUD)
			.setSubject('user-1')
			.setIssuedAt()
			.setExpirationTime(claims.exp ?? '5m')
			.sign(key);
	}

	async function withAssertion(assertion: string, configured: Record<string, string> = accessEnv) {
		const request = new Request('https://mailgate.test/api/integrations', {
			headers: { 'cf-access-jwt-assertion': assertion }
		});
		return fetchWithEnv(request, configured);
	}

	it('accepts a JWT signed by the team key for this application', async () => {
		const response = await withAssertion(await sign());
		expect(response.status).toBe(200);
	});

	it('refuses a JWT for another application (audience)', async () => {
		expect((await withAssertion(await sign({ aud: 'other-app' }))).status).toBe(401);
	});

	it('refuses a JWT from another issuer', async () => {
		expect((await withAssertion(await sign({ iss: 'https://evil.cloudflareaccess.com' }))).status).toBe(401);
	});

	it('refuses an expired JWT', async () => {
		const expired = Math.floor(Date.now() / 1000) - 3600;
		expect((await withAssertion(await sign({ exp: expired }))).status).toBe(401);
	});

	it('refuses a JWT signed by a key that is not the team’s', async () => {
		const { privateKey } = await generateKeyPair('RS256');
		expect((await withAssertion(await sign({ key: privateKey as CryptoKey }))).status).toBe(401);
	});

	it('refuses garbage and an alg=none token', async () => {
		expect((await withAssertion('not.a.jwt')).status).toBe(401);
		const none = `${btoa(JSON.stringify({ alg: 'none' }))}.${btoa(JSON.stringify({ aud: AUD, iss: env.ACCESS_JWKS_ORIGIN }))}.`;
		expect((await withAssertion(none)).status).toBe(401);
	});

	it('ignores Access JWTs unless both ACCESS_TEAM_DOMAIN and ACCESS_AUD are set', async () => {
		const token = await sign();
		expect((await withAssertion(token, { ACCESS_TEAM_DOMAIN: env.ACCESS_JWKS_ORIGIN, ACCESS_AUD: '' })).status).toBe(401);
		expect((await withAssertion(token, { ACCESS_TEAM_DOMAIN: '', ACCESS_AUD: AUD })).status).toBe(401);
	});
});
