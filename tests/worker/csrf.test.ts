/**
 * issue 18 (low): cross-site request forgery. With Cloudflare Access the browser carries the
 * admin's session on its own, so a page elsewhere could POST to /api with an HTML form or a
 * no-cors fetch (text/plain, form encodings, or no body at all). Every /api request other
 * than GET and HEAD must say Content-Type: application/json, which no form and no no-cors
 * fetch can send without a CORS preflight this API never grants, and a browser's
 * `Sec-Fetch-Site: cross-site` is refused outright. Help desks calling with an API key from
 * a server (no Sec-Fetch-Site) keep working.
 */
import { SELF, env } from 'cloudflare:test';
import { importJWK, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { call, createIntegration, createMailbox, fetchWithEnv, ORIGIN, TOKEN, unique } from './helpers';

/** A request as a browser or a server would send it, nothing added. */
async function send(method: string, path: string, headers: Record<string, string>, body?: string) {
	const response = await SELF.fetch(`${ORIGIN}${path}`, { method, headers: { authorization: `Bearer ${TOKEN}`, ...headers }, body });
	const text = await response.text();
	return { status: response.status, text, body: JSON.parse(text || 'null') };
}

describe('state-changing /api requests', () => {
	it('refuses text/plain, form encodings and no type at all with 415, and changes nothing', async () => {
		const integration = await createIntegration();
		await call('PATCH', `/api/integrations/${integration.id}`, { body: { webhook: { url: `${env.WEBHOOK_TEST_ORIGIN}/ok/csrf` } } });
		const secret = (await call('GET', `/api/integrations/${integration.id}/webhook-secret`)).body.secret as string;
		const rotate = `/api/integrations/${integration.id}/webhook-secret`;
		const attempts: Array<[string, Record<string, string>, string | undefined]> = [
			['text/plain', { 'content-type': 'text/plain' }, '{}'],
			['a form', { 'content-type': 'application/x-www-form-urlencoded' }, 'a=b'],
			['a multipart form', { 'content-type': 'multipart/form-data; boundary=x' }, '--x--\r\n'],
			['no body and no type', {}, undefined],
			['a look-alike type', { 'content-type': 'application/jsonp' }, '{}']
		];
		for (const [name, headers, body] of attempts) {
			const answer = await send('POST', rotate, headers, body);
			expect(answer.status, name).toBe(415);
			expect(answer.body.error.code, name).toBe('unsupported_media_type');
			expect(answer.body.error.message, name).toMatch(/application\/json/);
		}
		expect((await call('GET', rotate)).body.secret).toBe(secret);

		// A body-less DELETE the same way: the record stays.
		const mailbox = await createMailbox();
		expect((await send('DELETE', `/api/mailboxes/${mailbox.id}`, { 'content-type': 'text/plain' })).status).toBe(415);
		expect((await send('DELETE', `/api/mailboxes/${mailbox.id}`, {})).status).toBe(415);
		expect((await call('GET', `/api/mailboxes/${mailbox.id}`)).status).toBe(200);
	});

	it('refuses Sec-Fetch-Site: cross-site with 403 even as JSON, and takes same-origin JSON', async () => {
		const integration = await createIntegration();
		const path = `/api/integrations/${integration.id}`;
		const crossSite = await send('PATCH', path, { 'content-type': 'application/json', 'sec-fetch-site': 'cross-site' }, JSON.stringify({ name: unique('Forged') }));
		expect(crossSite.status).toBe(403);
		expect(crossSite.body.error.code).toBe('cross_site');
		expect((await send('DELETE', path, { 'content-type': 'application/json', 'sec-fetch-site': 'cross-site' })).status).toBe(403);
		expect((await call('GET', path)).body.name).toBe(integration.name);

		// The app: same origin, JSON; a body-less DELETE says JSON too.
		const renamedTo = unique('Renamed');
		const renamed = await send('PATCH', path, { 'content-type': 'application/json; charset=utf-8', 'sec-fetch-site': 'same-origin' }, JSON.stringify({ name: renamedTo }));
		expect(renamed.status, renamed.text).toBe(200);
		expect(renamed.body.name).toBe(renamedTo);
		const deleted = await send('DELETE', path, { 'content-type': 'application/json', 'sec-fetch-site': 'same-origin' });
		expect(deleted.status, deleted.text).toBe(204);
		// Reading stays as it was: a GET needs no type.
		expect((await send('GET', '/api/integrations', { 'sec-fetch-site': 'same-origin' })).status).toBe(200);
	});

	it('refuses a forged POST carrying a Cloudflare Access session the same way', async () => {
		const AUD = 'mailgate-test-audience';
		const jwk = JSON.parse(env.ACCESS_TEST_PRIVATE_JWK);
		const assertion = await new SignJWT({ email: 'admin@acme.example.com' })
			.setProtectedHeader({ alg: 'RS256', kid: jwk.kid })
			.setIssuer(env.ACCESS_JWKS_ORIGIN)
			.setAudience(AUD)
			.setSubject('user-1')
			.setIssuedAt()
			.setExpirationTime('5m')
			.sign((await importJWK(jwk, 'RS256')) as CryptoKey);
		const access = { ACCESS_TEAM_DOMAIN: env.ACCESS_JWKS_ORIGIN, ACCESS_AUD: AUD };
		const post = (headers: Record<string, string>, body?: string) =>
			fetchWithEnv(new Request(`${ORIGIN}/api/integrations`, { method: 'POST', headers: { 'cf-access-jwt-assertion': assertion, ...headers }, body }), access);
		expect((await post({ 'content-type': 'text/plain' }, JSON.stringify({ name: unique('Forged') }))).status).toBe(415);
		expect((await post({ 'content-type': 'application/json', 'sec-fetch-site': 'cross-site' }, JSON.stringify({ name: unique('Forged') }))).status).toBe(403);
		expect((await post({ 'content-type': 'application/json', 'sec-fetch-site': 'same-origin' }, JSON.stringify({ name: unique('Real') }))).status).toBe(201);
	});

	it('still serves a help desk calling with an API key from its server', async () => {
		const integration = await createIntegration();
		const mailbox = await call('POST', '/api/mailboxes', {
			body: {
				integrationId: integration.id,
				name: 'Acme Support',
				address: `csrf-${crypto.randomUUID().slice(0, 8)}@acme.example.com`,
				smtp: { host: 'smtp.acme.example.com', port: 587, username: 'support@acme.example.com', password: 'correct horse battery staple', encryption: 'starttls' }
			}
		});
		expect(mailbox.status, mailbox.text).toBe(201);
		const key = (await call('POST', `/api/integrations/${integration.id}/keys`, { body: { name: 'Desk' } })).body.key as string;
		const asDesk = (method: string, path: string, headers: Record<string, string>, body?: string) =>
			SELF.fetch(`${ORIGIN}${path}`, { method, headers: { authorization: `Bearer ${key}`, ...headers }, body });
		const sent = await asDesk('POST', `/api/mailboxes/${mailbox.body.id}/outbound`, { 'content-type': 'application/json' }, JSON.stringify({ to: ['alice@customer.example'], subject: 'Hello', text: 'Hi.' }));
		expect(sent.status, await sent.clone().text()).toBe(202);
		const { id } = (await sent.json()) as { id: string };
		// A body-less retry with the JSON type reaches the route (not retryable yet: 409).
		const retry = await asDesk('POST', `/api/outbound/${id}/retry`, { 'content-type': 'application/json' });
		expect(retry.status).toBe(409);
		// Without it, the desk is told what to send.
		const bare = await asDesk('POST', `/api/outbound/${id}/retry`, {});
		expect(bare.status).toBe(415);
		expect(await bare.text()).toMatch(/Content-Type: application\/json/);
		expect((await asDesk('GET', `/api/outbound/${id}`, {})).status).toBe(200);
	});
});
