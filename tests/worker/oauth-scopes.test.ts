/**
 * SPEC §14 inside workerd, against the loopback provider stand-in (scripts/local-oauth.mjs, which
 * keeps each grant's consented scope and refuses a refresh beyond it, as Microsoft does per
 * resource): the sign-in asks for the scope of the mailbox's way of sending and the grant keeps the
 * scope it got; a refresh asks for the method's scope; switching Send through on a connected
 * mailbox reads "reconnect" while the grant lacks the new method's scope, and connected again
 * when switched back; a withdrawn access stays withdrawn. Microsoft's other clouds: the ID token's
 * issuer follows the configured login host, through a real code exchange and refresh.
 */
import { SELF, env } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { accessTokenFor } from '../../worker/oauth/tokens';
import { servicesFrom } from '../../worker/services';
import { createIntegration, fetchWithEnv, mailboxInput, ORIGIN, TOKEN, unique } from './helpers';
import { api, arrive, authorize, signIn, standIn, watchTokens, type Provider } from './oauth-kit';

vi.setConfig({ testTimeout: 30_000 });
watchTokens();

const ports = JSON.parse(env.SMTP_TEST_PORTS) as Record<string, number>;

/** SPEC §14's scopes, written out. */
const SCOPES = {
	microsoft: {
		smtp: 'https://outlook.office.com/SMTP.Send offline_access openid profile email',
		api: 'https://graph.microsoft.com/Mail.Send offline_access openid profile email'
	},
	google: { smtp: 'https://mail.google.com/ openid email', api: 'https://www.googleapis.com/auth/gmail.send openid email' }
} as const;

type SendVia = 'smtp' | 'api';

async function oauthMailbox(provider: Provider, sendVia: SendVia) {
	const integration = await createIntegration();
	const account = `${unique('desk')}@acme.test`;
	const smtp =
		sendVia === 'api'
			? { username: account, auth: 'oauth2', oauth: { provider }, sendVia }
			: { host: '127.0.0.1', port: ports.xoauth2, username: account, encryption: 'none', auth: 'oauth2', oauth: { provider } };
	const answer = await api('POST', '/api/mailboxes', { ...mailboxInput(integration.id), smtp });
	expect(answer.status, answer.text).toBe(201);
	return { id: answer.body.id as string, account, provider, version: answer.body.version as number };
}

type Box = Awaited<ReturnType<typeof oauthMailbox>>;

const grant = (id: string) =>
	env.DB.prepare('SELECT scope, status, access_token FROM mailbox_oauth WHERE mailbox_id = ?1').bind(id).first<{ scope: string | null; status: string; access_token: string | null }>();

async function connection(box: Box) {
	const answer = await api('GET', `/api/mailboxes/${box.id}`);
	box.version = answer.body.version;
	return answer.body.smtp.oauth;
}

async function switchTo(box: Box, sendVia: SendVia) {
	const answer = await api('PATCH', `/api/mailboxes/${box.id}`, { version: box.version, smtp: { sendVia } });
	expect(answer.status, answer.text).toBe(200);
	box.version = answer.body.version;
	expect(answer.body.smtp.sendVia).toBe(sendVia);
	return answer.body.smtp.oauth;
}

/** The access token for the mailbox by `sendVia`, straight from worker/oauth/tokens.ts. */
function accessFor(box: Box, sendVia: SendVia, options: { forceRefresh?: boolean; env?: Record<string, string> } = {}) {
	const services = servicesFrom({ ...env, ...options.env } as Env);
	return accessTokenFor(services, { id: box.id, provider: box.provider, account: box.account, sendVia }, { forceRefresh: options.forceRefresh });
}

/** A token endpoint that cannot answer: an outcome other than `unreachable` proves it was not asked. */
const NO_TOKEN_ENDPOINT = { OAUTH_MICROSOFT_TOKEN_URL: 'http://127.0.0.1:9/token', OAUTH_GOOGLE_TOKEN_URL: 'http://127.0.0.1:9/token' };

describe('the scope of each way of sending (SPEC §14)', () => {
	it('the sign-in asks for the saved method’s scope, and the grant keeps the scope it got', async () => {
		for (const provider of ['microsoft', 'google'] as const) {
			for (const sendVia of ['smtp', 'api'] as const) {
				const box = await oauthMailbox(provider, sendVia);
				const { authorizationUrl, callback } = await authorize(box.id, provider);
				expect(authorizationUrl.searchParams.get('scope'), `${provider} ${sendVia}`).toBe(SCOPES[provider][sendVia]);
				const pending = await env.DB.prepare('SELECT scope FROM oauth_states WHERE mailbox_id = ?1').bind(box.id).first<{ scope: string }>();
				expect(pending?.scope).toBe(SCOPES[provider][sendVia]);
				expect(await arrive(callback)).toContain('oauth=connected');
				// The stand-in answers with the scope consented to, as the providers do.
				expect((await grant(box.id))?.scope).toBe(SCOPES[provider][sendVia]);
				expect(await connection(box)).toMatchObject({ status: 'connected', scopeMissing: false, account: box.account });
			}
		}
	});

	it('a refresh asks for the method’s scope (Microsoft refuses a Graph grant refreshed for SMTP.Send)', async () => {
		for (const sendVia of ['smtp', 'api'] as const) {
			const box = await oauthMailbox('microsoft', sendVia);
			await signIn(box.id);
			const before = (await standIn()).tokenRequests.length;
			const access = await accessFor(box, sendVia, { forceRefresh: true });
			expect(access.ok, JSON.stringify(access.ok ? {} : access.failure)).toBe(true);
			const refreshes = (await standIn()).tokenRequests.slice(before).filter((r) => r.grant === 'refresh_token' && r.provider === 'microsoft');
			expect(refreshes.some((r) => r.ok && r.scope === SCOPES.microsoft[sendVia])).toBe(true);
			expect(refreshes.some((r) => r.scope === SCOPES.microsoft[sendVia === 'api' ? 'smtp' : 'api'])).toBe(false);
		}
	});

	it('a sign-in whose grant lacks the sending scope (declined at the consent screen) connects nothing', async () => {
		const box = await oauthMailbox('google', 'api');
		const started = await api<{ authorizationUrl: string }>('POST', `/api/mailboxes/${box.id}/oauth/start`, { provider: 'google' });
		const url = new URL(started.body.authorizationUrl);
		// Google's granular consent: the user unticked "Send email on your behalf".
		url.searchParams.set('scope', 'openid email');
		const consent = await fetch(url, { redirect: 'manual' });
		expect(consent.status).toBe(302);
		const location = await arrive(consent.headers.get('location')!);
		expect(location).toContain('oauth=error');
		expect(location).toContain('reason=consent_refused');
		expect(await grant(box.id)).toBeNull();
	});
});

describe('switching Send through on a connected mailbox', () => {
	it('reads Reconnect while the grant lacks the new scope, connected again when switched back', async () => {
		const box = await oauthMailbox('microsoft', 'smtp');
		await signIn(box.id);
		expect((await grant(box.id))?.access_token).not.toBeNull();

		expect(await switchTo(box, 'api')).toMatchObject({ status: 'reconnect', scopeMissing: true, account: box.account });
		// Derived, not stored: the grant itself is intact; its cached SMTP token is dropped.
		expect(await grant(box.id)).toMatchObject({ status: 'connected', scope: SCOPES.microsoft.smtp, access_token: null });
		expect(await accessFor(box, 'api', { env: NO_TOKEN_ENDPOINT })).toEqual({ ok: false, failure: { reason: 'reconnect', scope: true } });

		expect(await switchTo(box, 'smtp')).toMatchObject({ status: 'connected', scopeMissing: false });
		expect((await accessFor(box, 'smtp')).ok).toBe(true);

		// Reconnect for the API: the sign-in asks for Graph's scope; the new grant covers the API only.
		await switchTo(box, 'api');
		const { authorizationUrl, callback } = await authorize(box.id);
		expect(authorizationUrl.searchParams.get('scope')).toBe(SCOPES.microsoft.api);
		expect(await arrive(callback)).toContain('oauth=connected');
		expect(await connection(box)).toMatchObject({ status: 'connected', scopeMissing: false });
		expect((await accessFor(box, 'api', { forceRefresh: true })).ok).toBe(true);
		expect(await accessFor(box, 'smtp', { env: NO_TOKEN_ENDPOINT })).toEqual({ ok: false, failure: { reason: 'reconnect', scope: true } });
		expect(await switchTo(box, 'smtp')).toMatchObject({ status: 'reconnect', scopeMissing: true });
	});

	it('a withdrawn access (invalid_grant) stays withdrawn whichever method is chosen', async () => {
		const box = await oauthMailbox('google', 'smtp');
		await signIn(box.id, 'google');
		expect(await standIn({ revoke: box.account })).toBeDefined();
		expect(await accessFor(box, 'smtp', { forceRefresh: true })).toEqual({ ok: false, failure: { reason: 'reconnect' } });
		expect(await connection(box)).toMatchObject({ status: 'reconnect', scopeMissing: false });
		expect(await switchTo(box, 'api')).toMatchObject({ status: 'reconnect', scopeMissing: true });
		expect(await switchTo(box, 'smtp')).toMatchObject({ status: 'reconnect', scopeMissing: false });
		expect((await grant(box.id))?.status).toBe('reconnect');
	});

	it('a grant kept before SPEC §14 (no scope) is an SMTP grant', async () => {
		const box = await oauthMailbox('microsoft', 'smtp');
		await signIn(box.id);
		await env.DB.prepare('UPDATE mailbox_oauth SET scope = NULL WHERE mailbox_id = ?1').bind(box.id).run();
		expect(await connection(box)).toMatchObject({ status: 'connected', scopeMissing: false });
		expect((await accessFor(box, 'smtp', { forceRefresh: true })).ok).toBe(true);
		expect(await switchTo(box, 'api')).toMatchObject({ status: 'reconnect', scopeMissing: true });
	});
});

describe("Microsoft's other clouds (SPEC §14): the ID token's issuer follows the configured login host", () => {
	const GOVERNMENT = { OAUTH_MICROSOFT_AUTHORIZE_URL: 'https://login.microsoftonline.us/organizations/oauth2/v2.0/authorize' };
	/** The stand-in's per-sign-in switch to another cloud (MICROSOFT_LOGIN_HOST in scripts/local-oauth.mjs). */
	const asCloud = (url: URL, host: string | null) => {
		const standInUrl = new URL(`${env.OAUTH_TEST_ORIGIN}/microsoft/authorize${url.search}`);
		if (host) standInUrl.searchParams.set('stand_in_login_host', host);
		return standInUrl;
	};

	async function startWith(box: Box, overrides: Record<string, string>): Promise<URL> {
		const request = new Request(`${ORIGIN}/api/mailboxes/${box.id}/oauth/start`, {
			method: 'POST',
			headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
			body: JSON.stringify({ provider: 'microsoft' })
		});
		const response = await fetchWithEnv(request, overrides);
		expect(response.status).toBe(200);
		return new URL(((await response.json()) as { authorizationUrl: string }).authorizationUrl);
	}

	async function callbackFrom(url: URL): Promise<string> {
		const consent = await fetch(url, { redirect: 'manual' });
		expect(consent.status).toBe(302);
		return consent.headers.get('location')!;
	}

	async function arriveWith(callback: string, overrides: Record<string, string>): Promise<string> {
		const response = await fetchWithEnv(new Request(callback, { redirect: 'manual' }), overrides);
		expect(response.status).toBe(303);
		return response.headers.get('location')!;
	}

	it('Azure Government: its issuer is accepted when its login endpoint is configured, on sign-in and refresh', async () => {
		const box = await oauthMailbox('microsoft', 'smtp');
		const authorizationUrl = await startWith(box, GOVERNMENT);
		expect(authorizationUrl.origin + authorizationUrl.pathname).toBe(GOVERNMENT.OAUTH_MICROSOFT_AUTHORIZE_URL);
		const callback = await callbackFrom(asCloud(authorizationUrl, 'login.microsoftonline.us'));
		expect(await arriveWith(callback, GOVERNMENT)).toContain('oauth=connected');
		// Microsoft's refresh answer carries a new ID token, from the same cloud.
		expect((await accessFor(box, 'smtp', { forceRefresh: true, env: GOVERNMENT })).ok).toBe(true);
		const publicCloud = await accessFor(box, 'smtp', { forceRefresh: true });
		expect(publicCloud.ok).toBe(false);
		expect(publicCloud.ok ? null : publicCloud.failure).toMatchObject({ reason: 'token_endpoint', failure: { kind: 'invalid_response' } });
	});

	it('refused under the public cloud, and the public issuer refused under Azure Government', async () => {
		const box = await oauthMailbox('microsoft', 'smtp');
		// Configured for the public cloud (the stand-in's loopback endpoints), issued by Azure Government.
		const started = await api<{ authorizationUrl: string }>('POST', `/api/mailboxes/${box.id}/oauth/start`, { provider: 'microsoft' });
		const fromGovernment = await callbackFrom(asCloud(new URL(started.body.authorizationUrl), 'login.microsoftonline.us'));
		const refused = await SELF.fetch(fromGovernment, { redirect: 'manual' });
		expect(refused.headers.get('location')).toContain('reason=provider_error');
		// Configured for Azure Government, issued by the public cloud.
		const governmentUrl = await startWith(box, GOVERNMENT);
		const fromPublic = await callbackFrom(asCloud(governmentUrl, null));
		expect(await arriveWith(fromPublic, GOVERNMENT)).toContain('reason=provider_error');
		expect(await grant(box.id)).toBeNull();
	});
});
