// The local stand-in's Microsoft Graph sendMail and Gmail messages.send (SPEC §14), which the
// Worker tests, the browser test, the bench and `npm start -- --oauth` send through: each takes a
// token only for its provider, its send scope and its account, answers in the provider's error
// shapes, can be scripted and slowed, records what it received without the token, and hands what
// it accepts for a service address to the Worker as Email Routing would.
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_CLIENTS, startLocalOAuth, type OAuthStandIn, type Provider } from '../../scripts/local-oauth.mjs';

const GRAPH_SCOPE = 'https://graph.microsoft.com/Mail.Send offline_access openid profile email';
const MICROSOFT_SMTP_SCOPE = 'https://outlook.office.com/SMTP.Send offline_access openid profile email';
const GMAIL_SCOPE = 'https://www.googleapis.com/auth/gmail.send openid email';
const GOOGLE_SMTP_SCOPE = 'https://mail.google.com/ openid email';
const ACCOUNT = 'agent@acme.example';
const SERVICE_ADDRESS = 'support@help.acme.example';
const MIME = [
	'From: "Acme Support" <agent@acme.example>',
	`To: "Alice, the customer" <alice@customer.example>, ${SERVICE_ADDRESS}`,
	'Bcc: bob@elsewhere.example',
	'Subject: Re: Hello',
	'Message-ID: <reply-1@acme.example>',
	'',
	'Hi'
].join('\r\n');

let standIn: OAuthStandIn;
/** What the stand-in for `wrangler dev` received at its email endpoint. */
const posted: Array<{ url: string; body: string }> = [];
const worker = createServer((request, response) => {
	if (request.url === '/api/mailboxes') {
		response.writeHead(200, { 'content-type': 'application/json' });
		return response.end(JSON.stringify({ items: [{ address: SERVICE_ADDRESS }] }));
	}
	const chunks: Buffer[] = [];
	request.on('data', (chunk: Buffer) => chunks.push(chunk));
	request.on('end', () => {
		posted.push({ url: request.url ?? '', body: Buffer.concat(chunks).toString('utf8') });
		response.writeHead(200).end();
	});
});

beforeAll(async () => {
	await new Promise<void>((resolve) => worker.listen(0, '127.0.0.1', resolve));
	const origin = `http://127.0.0.1:${(worker.address() as AddressInfo).port}`;
	standIn = await startLocalOAuth({ relay: { origin, adminToken: 'local-token' } });
});
afterAll(async () => {
	await standIn.close();
	await new Promise<void>((resolve) => worker.close(() => resolve()));
});

/** Signs in through the stand-in's authorize and token endpoints, with PKCE S256, as the Worker does. */
async function signIn(provider: Provider, scope: string, account = ACCOUNT) {
	const verifier = randomBytes(32).toString('base64url');
	const redirectUri = 'http://127.0.0.1:9/oauth/callback';
	const authorize = new URL(standIn.endpoints[provider].authorize);
	const query = { client_id: LOCAL_CLIENTS[provider].id, response_type: 'code', redirect_uri: redirectUri, scope, state: 's', login_hint: account };
	for (const [name, value] of Object.entries(query)) authorize.searchParams.set(name, value);
	authorize.searchParams.set('code_challenge', createHash('sha256').update(verifier).digest('base64url'));
	authorize.searchParams.set('code_challenge_method', 'S256');
	const back = new URL((await fetch(authorize, { redirect: 'manual' })).headers.get('location')!);
	const form = { grant_type: 'authorization_code', code: back.searchParams.get('code')!, redirect_uri: redirectUri, code_verifier: verifier };
	const response = await tokenRequest(provider, form);
	expect(response.status).toBe(200);
	return (await response.json()) as { access_token: string; refresh_token: string; scope: string };
}

function tokenRequest(provider: Provider, form: Record<string, string>) {
	return fetch(standIn.endpoints[provider].token, {
		method: 'POST',
		body: new URLSearchParams({ ...form, client_id: LOCAL_CLIENTS[provider].id, client_secret: LOCAL_CLIENTS[provider].secret })
	});
}

function graph(token: string, { account = ACCOUNT, body = Buffer.from(MIME).toString('base64') } = {}) {
	return fetch(`${standIn.workerVars().OAUTH_MICROSOFT_GRAPH_URL}/v1.0/users/${encodeURIComponent(account)}/sendMail`, {
		method: 'POST',
		headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' },
		body
	});
}

function gmail(token: string, raw = Buffer.from(MIME).toString('base64url')) {
	return fetch(`${standIn.workerVars().OAUTH_GOOGLE_GMAIL_URL}/gmail/v1/users/me/messages/send`, {
		method: 'POST',
		headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
		body: JSON.stringify({ raw })
	});
}

const control = (body: unknown) => fetch(`${standIn.origin}/__control`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('Microsoft Graph sendMail', () => {
	it('takes a Mail.Send token for the account (202, nothing in the body) and refuses others in Graph’s words', async () => {
		const { access_token } = await signIn('microsoft', GRAPH_SCOPE, 'Agent@Acme.example');
		const sent = await graph(access_token);
		expect(sent.status).toBe(202);
		expect(await sent.text()).toBe('');

		const unknown = await graph('not-a-token');
		expect(unknown.status).toBe(401);
		expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe('InvalidAuthenticationToken');
		const otherAccount = await graph(access_token, { account: 'someone.else@acme.example' });
		expect(otherAccount.status).toBe(403);
		expect(((await otherAccount.json()) as { error: { code: string } }).error.code).toBe('ErrorSendAsDenied');
		const notBase64 = await graph(access_token, { body: 'From: raw MIME is not base64!' });
		expect(notBase64.status).toBe(400);
		expect(((await notBase64.json()) as { error: { code: string } }).error.code).toBe('ErrorMimeContentInvalidBase64String');
		// A token for SMTP only: no consent to Graph's Mail.Send.
		const smtpOnly = await signIn('microsoft', MICROSOFT_SMTP_SCOPE);
		const denied = await graph(smtpOnly.access_token);
		expect(denied.status).toBe(403);
		expect(((await denied.json()) as { error: { code: string } }).error.code).toBe('ErrorAccessDenied');
		// A Google token is not Microsoft's.
		expect((await graph((await signIn('google', GMAIL_SCOPE)).access_token)).status).toBe(401);
	});

	it('refreshes within the consented scope only: a Graph grant asked for SMTP.Send is invalid_scope, and SMTP takes SMTP tokens only', async () => {
		const graphGrant = await signIn('microsoft', GRAPH_SCOPE);
		expect(graphGrant.scope).toBe(GRAPH_SCOPE);
		expect(standIn.isValidAccessToken(graphGrant.access_token, ACCOUNT)).toBe(false);
		const beyond = await tokenRequest('microsoft', { grant_type: 'refresh_token', refresh_token: graphGrant.refresh_token, scope: MICROSOFT_SMTP_SCOPE });
		expect(beyond.status).toBe(400);
		expect(((await beyond.json()) as { error: string }).error).toBe('invalid_scope');
		// The refused refresh used nothing up: the same refresh token still works for its own scope.
		const within = await tokenRequest('microsoft', { grant_type: 'refresh_token', refresh_token: graphGrant.refresh_token, scope: GRAPH_SCOPE });
		expect(within.status).toBe(200);
		const refreshed = (await within.json()) as { access_token: string; scope: string };
		expect(refreshed.scope).toBe(GRAPH_SCOPE);
		expect((await graph(refreshed.access_token)).status).toBe(202);

		const smtpGrant = await signIn('microsoft', MICROSOFT_SMTP_SCOPE);
		expect(standIn.isValidAccessToken(smtpGrant.access_token, ACCOUNT)).toBe(true);
		expect(standIn.isValidAccessToken(smtpGrant.access_token, 'someone.else@acme.example')).toBe(false);
	});
});

describe('Gmail messages.send', () => {
	it('takes gmail.send (or the full mail scope) and answers { id, threadId }; refuses others in Google’s words', async () => {
		const { access_token } = await signIn('google', GMAIL_SCOPE, 'me@gmail.example');
		const sent = await gmail(access_token);
		expect(sent.status).toBe(200);
		const { id, threadId } = (await sent.json()) as { id: string; threadId: string };
		expect(id).toMatch(/^[0-9a-f]{16}$/);
		expect(threadId).toBe(id);
		expect(standIn.isValidAccessToken(access_token, 'me@gmail.example')).toBe(false);

		const full = await signIn('google', GOOGLE_SMTP_SCOPE, 'me@gmail.example');
		expect((await gmail(full.access_token)).status).toBe(200);
		expect(standIn.isValidAccessToken(full.access_token, 'me@gmail.example')).toBe(true);

		const unknown = await gmail('not-a-token');
		expect(unknown.status).toBe(401);
		expect(await unknown.json()).toMatchObject({ error: { code: 401, status: 'UNAUTHENTICATED', errors: [{ reason: 'authError' }] } });
		const identityOnly = await signIn('google', 'openid email', 'me@gmail.example');
		const denied = await gmail(identityOnly.access_token);
		expect(denied.status).toBe(403);
		expect(await denied.json()).toMatchObject({ error: { code: 403, errors: [{ reason: 'insufficientPermissions' }] } });
	});
});

describe('for the tests', () => {
	it('scripted answers (with Retry-After) come first, every answer waits apiDelayMs, and each request is recorded with its MIME, never its token', async () => {
		const { access_token } = await signIn('microsoft', GRAPH_SCOPE);
		const throttled = { status: 429, body: { error: { code: 'ApplicationThrottled', message: 'Too many requests' } }, headers: { 'retry-after': '7' } };
		expect((await control({ apiAnswers: { provider: 'microsoft', answers: [throttled] } })).status).toBe(200);
		const first = await graph(access_token);
		expect(first.status).toBe(429);
		expect(first.headers.get('retry-after')).toBe('7');
		expect(await first.json()).toEqual(throttled.body);
		expect((await graph(access_token)).status).toBe(202);
		standIn.scriptApi('google', [{ status: 503 }]);
		expect((await gmail('even-an-unknown-token')).status).toBe(503);
		expect((await control({ apiAnswers: { provider: 'yahoo', answers: [] } })).status).toBe(400);
		expect((await fetch(`${standIn.origin}/__control`, { method: 'POST', body: '{' })).status).toBe(400);

		await control({ apiDelayMs: 400 });
		let started = Date.now();
		expect((await graph(access_token)).status).toBe(202);
		expect(Date.now() - started).toBeGreaterThanOrEqual(390);
		standIn.configure({ apiDelayMs: 0 });
		started = Date.now();
		expect((await graph(access_token)).status).toBe(202);
		expect(Date.now() - started).toBeLessThan(390);

		const recorded = ((await (await fetch(`${standIn.origin}/__control`)).json()) as { apiRequests: unknown[] }).apiRequests;
		expect(recorded).toEqual(standIn.apiRequests());
		expect(standIn.apiRequests().slice(-5)).toMatchObject([
			{ provider: 'microsoft', account: ACCOUNT, status: 429, mime: MIME, contentType: 'text/plain', authorization: 'Bearer …redacted' },
			{ provider: 'microsoft', status: 202 },
			{ provider: 'google', account: 'me', status: 503, mime: MIME, contentType: 'application/json' },
			{ provider: 'microsoft', status: 202 },
			{ provider: 'microsoft', status: 202 }
		]);
		const { accessTokens } = standIn.issued();
		for (const token of accessTokens) expect(JSON.stringify(recorded)).not.toContain(token);
	});

	it('a revoked or expired token is refused', async () => {
		const { access_token } = await signIn('microsoft', GRAPH_SCOPE, 'leaver@acme.example');
		standIn.revoke('leaver@acme.example');
		expect((await graph(access_token, { account: 'leaver@acme.example' })).status).toBe(401);
		standIn.configure({ accessTokenSeconds: 0 });
		try {
			const expired = await signIn('google', GMAIL_SCOPE);
			expect((await gmail(expired.access_token)).status).toBe(401);
		} finally {
			standIn.configure({ accessTokenSeconds: 3600 });
		}
	});
});

describe('with a relay', () => {
	it('hands an accepted message to the Worker for each service address among To, Cc and Bcc, without the Bcc header', async () => {
		posted.length = 0;
		const { access_token } = await signIn('microsoft', GRAPH_SCOPE);
		expect((await graph(access_token)).status).toBe(202);
		await expect.poll(() => posted.length, { timeout: 5_000 }).toBe(1);
		expect(posted[0]!.url).toBe(`/cdn-cgi/handler/email?from=${encodeURIComponent(ACCOUNT)}&to=${encodeURIComponent(SERVICE_ADDRESS)}`);
		expect(posted[0]!.body).toMatch(/^Received-SPF: none \(mx\.cloudflare\.net: [^)]*\) receiver=mx\.cloudflare\.net; client-ip=127\.0\.0\.1;/);
		expect(posted[0]!.body.endsWith(MIME.replace('Bcc: bob@elsewhere.example\r\n', ''))).toBe(true);

		// Refused or scripted answers deliver nothing; neither does a message for customers only.
		standIn.scriptApi('microsoft', [{ status: 202 }]);
		expect((await graph(access_token)).status).toBe(202);
		expect((await graph('not-a-token')).status).toBe(401);
		expect((await graph(access_token, { body: Buffer.from(MIME.replace(`, ${SERVICE_ADDRESS}`, '')).toString('base64') })).status).toBe(202);
		const bccOnly = MIME.replace(`, ${SERVICE_ADDRESS}`, '').replace('Bcc: bob@elsewhere.example', `Bcc: ${SERVICE_ADDRESS}`);
		expect((await graph(access_token, { body: Buffer.from(bccOnly).toString('base64') })).status).toBe(202);
		await expect.poll(() => posted.length, { timeout: 5_000 }).toBe(2);
		expect(posted[1]!.body).not.toMatch(/^Bcc:/im);
	});
});
