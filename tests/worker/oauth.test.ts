/**
 * SPEC §12 inside workerd: Sign in with Microsoft 365 / Google against the loopback OAuth 2.0
 * provider stand-in (scripts/local-oauth.mjs: auto-consent or refusal, PKCE S256 and client
 * checks, single-use codes, signed ID tokens, refresh with rotation, invalid_grant after revoke)
 * and a real smtp-server that takes only AUTH XOAUTH2 with the tokens it issued
 * (tests/worker/smtp-servers.ts). The SMTP test, replies and the mail flow check's probe all log
 * in through the one credentials path; no token may appear in any answer, log, transcript or
 * D1 row in clear.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import type { FlowCheck } from '../../src/lib/schema/flow-check';
import type { OutboundItem } from '../../src/lib/schema/outbound';
import { decryptSecret } from '../../worker/crypto/secret-box';
import { handleOAuthCallback } from '../../worker/api/oauth';
import { findMailbox } from '../../worker/db/mailboxes';
import { smtpLoginFor } from '../../worker/send/credentials';
import { classify, parseReply } from '../../worker/smtp/classify';
import { createIntegration, fetchWithEnv, mailboxInput, ORIGIN, TOKEN, unique } from './helpers';
import { api, arrive, authorize, refreshCount, signIn, standIn, waitForCheck, waitForOutbound, watchTokens } from './oauth-kit';
import { servicesFrom } from '../../worker/services';

const ports = JSON.parse(env.SMTP_TEST_PORTS) as Record<string, number>;

vi.setConfig({ testTimeout: 30_000 });

// Nothing secret anywhere: every answer and every log line of this file is checked.
watchTokens();



async function oauthMailbox(options: { provider?: 'microsoft' | 'google'; server?: string; account?: string } = {}) {
	const integration = await createIntegration();
	const account = options.account ?? `${unique('desk')}@acme.test`;
	const smtp = { host: '127.0.0.1', port: ports[options.server ?? 'xoauth2'], username: account, encryption: 'none', auth: 'oauth2', oauth: { provider: options.provider ?? 'microsoft' } };
	const answer = await api('POST', '/api/mailboxes', { ...mailboxInput(integration.id, { name: 'Acme Support' }), smtp });
	expect(answer.status, answer.text).toBe(201);
	return answer.body as { id: string; address: string; version: number; smtp: { username: string } };
}




async function smtpTest(mailboxId: string) {
	const answer = await api('POST', `/api/mailboxes/${mailboxId}/smtp-test`, {});
	expect(answer.status, answer.text).toBe(200);
	return answer.body;
}

async function received(): Promise<Array<{ server: string; to: string[]; data: string }>> {
	return (await fetch(`http://127.0.0.1:${ports.control}/received`)).json();
}

describe('settings (SPEC §12)', () => {
	it('an OAuth mailbox needs no password, keeps none, and shows its sign-in as not connected', async () => {
		const integration = await createIntegration();
		const input = mailboxInput(integration.id, { smtp: { auth: 'oauth2', oauth: { provider: 'google' }, host: 'smtp.gmail.com', port: 465, encryption: 'tls', password: 'ignored-with-oauth' } });
		const created = await api('POST', '/api/mailboxes', input);
		expect(created.status, created.text).toBe(201);
		expect(created.body.smtp).toMatchObject({ auth: 'oauth2', hasPassword: false, oauth: { provider: 'google', account: null, connectedAt: null, status: 'not_connected' } });
		const row = await env.DB.prepare('SELECT smtp_password, smtp_auth, smtp_oauth_provider FROM mailboxes WHERE id = ?1').bind(created.body.id).first();
		expect(row).toEqual({ smtp_password: '', smtp_auth: 'oauth2', smtp_oauth_provider: 'google' });

		const { password: _password, ...withoutPassword } = input.smtp;
		const noProvider = await api('POST', '/api/mailboxes', { ...input, address: `${unique('x')}@acme.example.com`, smtp: { ...withoutPassword, oauth: null } });
		expect(noProvider.status).toBe(422);
		expect(noProvider.body.error.fields['smtp.oauth.provider']).toBe('Choose Microsoft 365 or Google');
		const passwordless = await api('POST', '/api/mailboxes', { ...input, address: `${unique('x')}@acme.example.com`, smtp: { ...withoutPassword, auth: 'password' } });
		expect(passwordless.body.error.fields['smtp.password']).toBe('Enter the SMTP password');
		// Back to a password: one must be given, since none is stored.
		const back = await api('PATCH', `/api/mailboxes/${created.body.id}`, { version: 1, smtp: { auth: 'password' } });
		expect(back.status).toBe(422);
		expect(back.body.error.fields['smtp.password']).toBe('Enter the SMTP password');
	});

	it('GET /api/oauth/providers says which provider is configured and what to set for the other', async () => {
		expect((await api('GET', '/api/oauth/providers')).body).toEqual({ microsoft: { configured: true, missing: [] }, google: { configured: true, missing: [] } });
		const request = (path: string, init: RequestInit = {}) =>
			new Request(`${ORIGIN}${path}`, { ...init, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' } });
		const bare = { OAUTH_GOOGLE_CLIENT_ID: '', OAUTH_GOOGLE_CLIENT_SECRET: undefined, OAUTH_MICROSOFT_TOKEN_URL: 'http://login.example.com/token' };
		const providers = await (await fetchWithEnv(request('/api/oauth/providers'), bare)).json();
		expect(providers).toEqual({
			microsoft: { configured: false, missing: ['OAUTH_MICROSOFT_TOKEN_URL (https://)'] },
			google: { configured: false, missing: ['OAUTH_GOOGLE_CLIENT_ID', 'OAUTH_GOOGLE_CLIENT_SECRET'] }
		});
		const mailbox = await oauthMailbox({ provider: 'google' });
		const refused = await fetchWithEnv(request(`/api/mailboxes/${mailbox.id}/oauth/start`, { method: 'POST', body: '{"provider":"google"}' }), bare);
		expect(refused.status).toBe(409);
		expect(((await refused.json()) as { error: { message: string } }).error.message).toContain('set OAUTH_GOOGLE_CLIENT_ID, OAUTH_GOOGLE_CLIENT_SECRET');
		// The sign-in is for the saved Sign-in method only.
		const other = await api('POST', `/api/mailboxes/${mailbox.id}/oauth/start`, { provider: 'microsoft' });
		expect(other.status).toBe(409);
		expect(other.body.error.code).toBe('sign_in_method_not_saved');
	});
});

describe('connecting', () => {
	it('signs in with PKCE S256, stores the refresh token sealed, and the SMTP test logs in with XOAUTH2', async () => {
		const mailbox = await oauthMailbox();
		const { authorizationUrl, callback } = await authorize(mailbox.id);
		const q = authorizationUrl.searchParams;
		expect(`${authorizationUrl.origin}${authorizationUrl.pathname}`).toBe(`${env.OAUTH_TEST_ORIGIN}/microsoft/authorize`);
		expect(Object.fromEntries([...q].filter(([k]) => !['state', 'code_challenge'].includes(k)))).toEqual({
			client_id: 'mailgate-local-microsoft',
			response_type: 'code',
			redirect_uri: `${ORIGIN}/oauth/callback`,
			scope: 'https://outlook.office.com/SMTP.Send offline_access openid profile email',
			code_challenge_method: 'S256',
			login_hint: mailbox.smtp.username
		});
		expect(q.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
		// Random only: nothing in it names the mailbox (a state Mailgate did not keep leads nowhere).
		expect(q.get('state')).toMatch(/^[A-Za-z0-9_-]{43}$/);
		// Only the state's hash and the sealed verifier are kept.
		const pending = await env.DB.prepare('SELECT * FROM oauth_states WHERE mailbox_id = ?1').bind(mailbox.id).first<Record<string, string>>();
		expect(pending!.state_hash).toMatch(/^[0-9a-f]{64}$/);
		expect(JSON.stringify(pending)).not.toContain(q.get('state')!);
		expect(pending!.code_verifier).toMatch(/^v1\./);

		expect(await arrive(callback)).toBe(`/mailboxes/${mailbox.id}?oauth=connected&provider=microsoft`);
		const read = await api('GET', `/api/mailboxes/${mailbox.id}`);
		expect(read.body.smtp.oauth).toMatchObject({ provider: 'microsoft', account: mailbox.smtp.username, status: 'connected' });
		expect(Date.parse(read.body.smtp.oauth.connectedAt)).toBeGreaterThan(Date.now() - 60_000);
		expect(read.body.version).toBe(mailbox.version); // Connecting is not an edit of the settings.

		// At rest: sealed, bound to this mailbox, and it is the stand-in's refresh token inside.
		const row = await env.DB.prepare('SELECT * FROM mailbox_oauth WHERE mailbox_id = ?1').bind(mailbox.id).first<Record<string, string>>();
		const { refreshTokens, accessTokens } = await standIn();
		for (const token of [...refreshTokens, ...accessTokens]) expect(JSON.stringify(row)).not.toContain(token);
		expect(row!.refresh_token).toMatch(/^v1\./);
		const opened = await decryptSecret({ sealed: row!.refresh_token!, secret: env.SMTP_ENCRYPTION_KEY, boundTo: `mailbox:${mailbox.id}:oauth-refresh` });
		expect(refreshTokens).toContain(opened);
		await expect(decryptSecret({ sealed: row!.refresh_token!, secret: env.SMTP_ENCRYPTION_KEY, boundTo: `mailbox:${mailbox.id}` })).rejects.toThrow();

		const before = await refreshCount();
		const result = await smtpTest(mailbox.id);
		expect(result).toMatchObject({ ok: true, stage: 'data', settings: 'saved' });
		expect(result.steps.map((s: { stage: string }) => s.stage)).toEqual(['connect', 'greeting', 'ehlo', 'auth', 'mail', 'rcpt', 'data']);
		expect(result.transcript).toContain('C: AUTH XOAUTH2 [redacted]');
		expect(result.transcript.some((line: string) => /^S: 235/.test(line))).toBe(true);
		// The access token from the sign-in was used: no refresh yet.
		expect(await refreshCount()).toBe(before);
		expect((await received()).find((m) => m.server === 'xoauth2' && m.to.includes(mailbox.address))?.data).toContain('Subject: Mailgate SMTP test');
		await api('GET', `/api/mailboxes/${mailbox.id}/smtp-tests`);

		// The same redirect again (a replayed state) changes nothing, and leads to the start page.
		expect(await arrive(callback)).toBe('/?oauth=error&reason=link_used');
	});

	it('Google: its issuer, offline access with consent, and the SMTP test', async () => {
		const mailbox = await oauthMailbox({ provider: 'google' });
		const { authorizationUrl, callback } = await authorize(mailbox.id, 'google');
		expect(authorizationUrl.searchParams.get('scope')).toBe('https://mail.google.com/ openid email');
		expect(authorizationUrl.searchParams.get('access_type')).toBe('offline');
		expect(authorizationUrl.searchParams.get('prompt')).toBe('consent');
		expect(await arrive(callback)).toBe(`/mailboxes/${mailbox.id}?oauth=connected&provider=google`);
		expect((await smtpTest(mailbox.id)).ok).toBe(true);
	});

	it('refuses an expired or unknown state, a refused consent and a different account, naming each', async () => {
		const mailbox = await oauthMailbox();
		// Expired: the link is older than 10 minutes when the browser comes back; it is used up all the same.
		const { callback } = await authorize(mailbox.id);
		const late = await handleOAuthCallback(new Request(callback), servicesFrom(env), () => new Date(Date.now() + 10 * 60_000 + 1_000));
		expect(late.headers.get('location')).toBe(`/mailboxes/${mailbox.id}?oauth=error&reason=link_expired&provider=microsoft`);
		expect(await arrive(callback)).toBe('/?oauth=error&reason=link_used');
		// A state Mailgate never made (or one changed on the way) names no mailbox, whatever it holds.
		const forged = new URL(callback);
		forged.searchParams.set('state', `${mailbox.id}.${'A'.repeat(43)}`);
		expect(await arrive(forged.href)).toBe('/?oauth=error&reason=link_used');
		expect(await arrive(`${ORIGIN}/oauth/callback?code=x&state=nonsense`)).toBe('/?oauth=error&reason=link_used');

		await standIn({ deny: true });
		try {
			const denied = await authorize(mailbox.id);
			expect(new URL(denied.callback).searchParams.get('error')).toBe('access_denied');
			expect(await arrive(denied.callback)).toBe(`/mailboxes/${mailbox.id}?oauth=error&reason=consent_refused&provider=microsoft`);
		} finally {
			await standIn({ deny: false });
		}
		await standIn({ signInAs: 'someone.else@acme.test' });
		try {
			expect(await signIn(mailbox.id)).toBe(`/mailboxes/${mailbox.id}?oauth=error&reason=wrong_account&provider=microsoft&account=someone.else%40acme.test`);
		} finally {
			await standIn({ signInAs: null });
		}
		expect((await api('GET', `/api/mailboxes/${mailbox.id}`)).body.smtp.oauth.status).toBe('not_connected');
		expect(await env.DB.prepare('SELECT COUNT(*) AS n FROM mailbox_oauth WHERE mailbox_id = ?1').bind(mailbox.id).first('n')).toBe(0);
		// Not signed in: the test says so without connecting.
		expect(await smtpTest(mailbox.id)).toMatchObject({ ok: false, stage: 'auth', category: 'auth', steps: [], hint: expect.stringContaining('not signed in to Microsoft 365 yet') });
	});

	it('sends an unknown, forged or replayed state to the start page, never to a mailbox it names', async () => {
		const mailbox = await oauthMailbox();
		const { callback } = await authorize(mailbox.id);
		const state = new URL(callback).searchParams.get('state')!;
		for (const guess of [mailbox.id, `${mailbox.id}.${'A'.repeat(43)}`, `${mailbox.id}.${state}`, `${mailbox.id}.`]) {
			const forged = new URL(callback);
			forged.searchParams.set('state', guess);
			expect(await arrive(forged.href), guess).toBe('/?oauth=error&reason=link_used');
		}
		expect(await arrive(`${ORIGIN}/oauth/callback?error=access_denied&state=${encodeURIComponent(mailbox.id)}`)).toBe('/?oauth=error&reason=link_used');
		expect(await arrive(`${ORIGIN}/oauth/callback`)).toBe('/?oauth=error&reason=link_used');
		// The real one still works once; then it is a replay like any other.
		expect(await arrive(callback)).toBe(`/mailboxes/${mailbox.id}?oauth=connected&provider=microsoft`);
		expect(await arrive(callback)).toBe('/?oauth=error&reason=link_used');
	});

	it('Microsoft: the account is preferred_username (with tid), never the email claim a user can set', async () => {
		const mailbox = await oauthMailbox();
		// Entra lets a user put any address in `email`: naming the mailbox's Account there opens nothing.
		await standIn({ signInAs: 'intruder@other-tenant.test', microsoftEmail: mailbox.smtp.username });
		try {
			expect(await signIn(mailbox.id)).toBe(`/mailboxes/${mailbox.id}?oauth=error&reason=wrong_account&provider=microsoft&account=intruder%40other-tenant.test`);
			expect(await env.DB.prepare('SELECT COUNT(*) AS n FROM mailbox_oauth WHERE mailbox_id = ?1').bind(mailbox.id).first('n')).toBe(0);
			// The Account signing in, whatever its `email` says, connects.
			await standIn({ signInAs: null, microsoftEmail: 'someone-else@other-tenant.test' });
			expect(await signIn(mailbox.id)).toBe(`/mailboxes/${mailbox.id}?oauth=connected&provider=microsoft`);
			expect((await api('GET', `/api/mailboxes/${mailbox.id}`)).body.smtp.oauth).toMatchObject({ account: mailbox.smtp.username, status: 'connected' });
		} finally {
			await standIn({ signInAs: null, microsoftEmail: null });
		}
	});

	it('Google: an address Google has not verified is refused, and said so', async () => {
		const mailbox = await oauthMailbox({ provider: 'google' });
		await standIn({ emailVerified: false });
		try {
			expect(await signIn(mailbox.id, 'google')).toBe(`/mailboxes/${mailbox.id}?oauth=error&reason=email_unverified&provider=google`);
		} finally {
			await standIn({ emailVerified: true });
		}
		expect((await api('GET', `/api/mailboxes/${mailbox.id}`)).body.smtp.oauth.status).toBe('not_connected');
		expect(await env.DB.prepare('SELECT COUNT(*) AS n FROM mailbox_oauth WHERE mailbox_id = ?1').bind(mailbox.id).first('n')).toBe(0);
		expect(await signIn(mailbox.id, 'google')).toBe(`/mailboxes/${mailbox.id}?oauth=connected&provider=google`);
	});

	it('a wrong PKCE verifier is refused by the token endpoint', async () => {
		const mailbox = await oauthMailbox();
		const { callback } = await authorize(mailbox.id);
		const { encryptSecret } = await import('../../worker/crypto/secret-box');
		const other = await encryptSecret({ plain: 'x'.repeat(43), secret: env.SMTP_ENCRYPTION_KEY, boundTo: `mailbox:${mailbox.id}:oauth-verifier` });
		await env.DB.prepare('UPDATE oauth_states SET code_verifier = ?1 WHERE mailbox_id = ?2').bind(other, mailbox.id).run();
		expect(await arrive(callback)).toBe(`/mailboxes/${mailbox.id}?oauth=error&reason=link_used&provider=microsoft`);
		const last = (await standIn()).tokenRequests.at(-1);
		expect(last).toMatchObject({ grant: 'authorization_code', ok: false, error: 'invalid_grant' });
	});

	it('a code verifier that no longer opens (the key changed meanwhile) is the sealer\'s config outcome, not a provider error (issue 20)', async () => {
		const mailbox = await oauthMailbox();
		const { callback } = await authorize(mailbox.id);
		const { createSealer } = await import('../../worker/crypto/sealer');
		const elsewhere = await createSealer(btoa('K'.repeat(32))).seal('oauth-verifier', { mailboxId: mailbox.id }, 'x'.repeat(43));
		await env.DB.prepare('UPDATE oauth_states SET code_verifier = ?1 WHERE mailbox_id = ?2').bind(elsewhere, mailbox.id).run();
		const exchanges = (await standIn()).tokenRequests.length;
		expect(await arrive(callback)).toBe(`/mailboxes/${mailbox.id}?oauth=error&reason=config&provider=microsoft`);
		// Nothing was sent to the provider with a verifier that could not be read.
		expect((await standIn()).tokenRequests.length).toBe(exchanges);
	});
});

describe('access tokens', () => {
	it('reuses the access token until a minute before it expires, then refreshes and stores the rotated refresh token', async () => {
		const mailbox = await oauthMailbox();
		await signIn(mailbox.id);
		const stored = (await findMailbox(env.DB, mailbox.id))!;
		const sealedAt = async () => (await env.DB.prepare('SELECT refresh_token, access_expires_at FROM mailbox_oauth WHERE mailbox_id = ?1').bind(mailbox.id).first<{ refresh_token: string; access_expires_at: number }>())!;
		const first = await sealedAt();
		const before = await refreshCount();

		// Well before expiry: the cached token, no request to the provider.
		const early = await smtpLoginFor(servicesFrom(env), stored, { now: () => first.access_expires_at - 10 * 60_000 });
		expect(early.ok && early.settings.credential.kind).toBe('oauth2');
		expect(await refreshCount()).toBe(before);
		// Within the last minute: a new one, and the rotated refresh token replaces the stored one.
		const late = await smtpLoginFor(servicesFrom(env), stored, { now: () => first.access_expires_at - 59_000 });
		expect(late.ok).toBe(true);
		expect(await refreshCount()).toBe(before + 1);
		const second = await sealedAt();
		expect(second.refresh_token).not.toBe(first.refresh_token);
		const openRefresh = (sealed: string) => decryptSecret({ sealed, secret: env.SMTP_ENCRYPTION_KEY, boundTo: `mailbox:${mailbox.id}:oauth-refresh` });
		expect(await openRefresh(second.refresh_token)).not.toBe(await openRefresh(first.refresh_token));
		expect(second.access_expires_at).toBeGreaterThan(first.access_expires_at - 60_000);
		if (early.ok && late.ok && early.settings.credential.kind === 'oauth2' && late.settings.credential.kind === 'oauth2') {
			expect(late.settings.credential.accessToken).not.toBe(early.settings.credential.accessToken);
		}
		// The stand-in refuses a rotated-away refresh token, so a second refresh works only with the stored new one.
		const again = await smtpLoginFor(servicesFrom(env), stored, { now: () => second.access_expires_at });
		expect(again.ok).toBe(true);
		expect(await refreshCount()).toBe(before + 2);
		expect((await smtpTest(mailbox.id)).ok).toBe(true);
	});
});

describe('a withdrawn access: Reconnect, for the SMTP test, replies and the probe alike', () => {
	it('revoked at the provider: the refused token leads to invalid_grant, status reconnect, category auth', async () => {
		const mailbox = await oauthMailbox();
		await signIn(mailbox.id);
		expect((await smtpTest(mailbox.id)).ok).toBe(true);
		await standIn({ revoke: mailbox.smtp.username });

		// SMTP test: the cached token is refused by the server; asking the provider at once finds the access withdrawn.
		const test = await smtpTest(mailbox.id);
		expect(test).toMatchObject({ ok: false, stage: 'auth', category: 'auth' });
		expect(test.hint).toContain('Reconnect');
		expect(test.hint).toContain('invalid_grant');
		expect(test.transcript).toContain('S: 334 [XOAUTH2 error: status=401, schemes=Bearer, scope=https://mail.google.com/]');
		expect(test.transcript).toContain('C: (empty line)');
		expect(test.transcript.some((line: string) => /^S: 535/.test(line))).toBe(true);
		const read = await api('GET', `/api/mailboxes/${mailbox.id}`);
		expect(read.body.smtp.oauth).toMatchObject({ status: 'reconnect', account: mailbox.smtp.username });
		expect((await api('GET', '/api/mailboxes')).body.items.find((m: { id: string }) => m.id === mailbox.id).smtp.oauth.status).toBe('reconnect');

		// A reply: failed at once (not retried by itself), with the same words.
		const posted = await api<OutboundItem>('POST', `/api/mailboxes/${mailbox.id}/outbound`, { to: ['customer@example.test'], subject: 'Re: help', text: 'Hello' });
		expect(posted.status, posted.text).toBe(202);
		const reply = await waitForOutbound(posted.body.id);
		expect(reply).toMatchObject({ status: 'failed', nextAttemptAt: null });
		expect(reply.attempts.at(-1)).toMatchObject({ ok: false, stage: 'auth', category: 'auth', temporary: false });
		expect(reply.attempts.at(-1)!.hint).toContain('Reconnect');

		// The probe of a mail flow check.
		const check = await api<FlowCheck>('POST', `/api/mailboxes/${mailbox.id}/flow-check`, {});
		expect(check.status, check.text).toBe(202);
		const sent = await waitForCheck(mailbox.id, check.body.id, (c) => c.roundTrip.step !== 'sending');
		expect(sent.roundTrip).toMatchObject({ step: 'send_failed', smtp: { ok: false, stage: 'auth', category: 'auth' } });
		expect(sent.roundTrip.smtp!.hint).toContain('Reconnect');

		// Signing in again connects it again.
		expect(await signIn(mailbox.id)).toBe(`/mailboxes/${mailbox.id}?oauth=connected&provider=microsoft`);
		expect((await api('GET', `/api/mailboxes/${mailbox.id}`)).body.smtp.oauth.status).toBe('connected');
		expect((await smtpTest(mailbox.id)).ok).toBe(true);
	});

	it('replies and the probe log in with XOAUTH2 while connected', async () => {
		const mailbox = await oauthMailbox();
		await signIn(mailbox.id);
		const posted = await api<OutboundItem>('POST', `/api/mailboxes/${mailbox.id}/outbound`, { to: ['customer@example.test'], subject: 'Re: your question', text: 'Answered.' });
		const reply = await waitForOutbound(posted.body.id);
		// The server takes nothing but XOAUTH2 with a token the stand-in issued.
		expect(reply.status).toBe('sent');
		const check = await api<FlowCheck>('POST', `/api/mailboxes/${mailbox.id}/flow-check`, {});
		const sent = await waitForCheck(mailbox.id, check.body.id, (c) => c.roundTrip.step !== 'sending');
		expect(sent.roundTrip).toMatchObject({ step: 'waiting', smtp: { ok: true, code: 250 } });
		const arrived = (await received()).filter((m) => m.server === 'xoauth2' && m.data.includes(mailbox.address));
		expect(arrived.some((m) => m.data.includes('Subject: Re: your question'))).toBe(true);
		expect(arrived.some((m) => m.data.includes('X-Mailgate-Probe:'))).toBe(true);
	});

	it('SMTP AUTH switched off for the mailbox: the admin must enable it, even with OAuth', async () => {
		const mailbox = await oauthMailbox({ server: 'xoauth2Disabled' });
		await signIn(mailbox.id);
		const test = await smtpTest(mailbox.id);
		expect(test).toMatchObject({ ok: false, stage: 'auth', category: 'auth', enhancedCode: '5.7.139' });
		expect(test.hint).toContain('enable authenticated SMTP for the mailbox');
		expect(test.hint).toContain('Sign in with Microsoft too');
		// The provider still accepts the sign-in: it stays connected.
		expect((await api('GET', `/api/mailboxes/${mailbox.id}`)).body.smtp.oauth.status).toBe('connected');
	});

	it('changing the Account after signing in asks to reconnect; a password again drops the tokens', async () => {
		const mailbox = await oauthMailbox();
		await signIn(mailbox.id);
		const renamed = await api('PATCH', `/api/mailboxes/${mailbox.id}`, { version: mailbox.version, smtp: { username: 'another@acme.test' } });
		expect(renamed.body.smtp.oauth).toMatchObject({ status: 'reconnect', account: mailbox.smtp.username });
		expect((await smtpTest(mailbox.id)).hint).toContain(`signed in as ${mailbox.smtp.username}, but its Account is now another@acme.test`);
		const password = await api('PATCH', `/api/mailboxes/${mailbox.id}`, { version: renamed.body.version, smtp: { auth: 'password', password: 'a-password-again' } });
		expect(password.body.smtp).toMatchObject({ auth: 'password', hasPassword: true, oauth: null });
		expect(await env.DB.prepare('SELECT COUNT(*) AS n FROM mailbox_oauth WHERE mailbox_id = ?1').bind(mailbox.id).first('n')).toBe(0);
	});
});

describe('deleting', () => {
	it('a signed-in mailbox with a test and a sign-in under way: 204, and its tokens and states go with it', async () => {
		const mailbox = await oauthMailbox();
		await signIn(mailbox.id);
		await smtpTest(mailbox.id);
		await authorize(mailbox.id);
		const deleted = await api('DELETE', `/api/mailboxes/${mailbox.id}`);
		expect(deleted.status, deleted.text).toBe(204);
		for (const table of ['mailbox_oauth', 'oauth_states', 'smtp_tests']) {
			expect(await env.DB.prepare(`SELECT COUNT(*) AS n FROM ${table} WHERE mailbox_id = ?1`).bind(mailbox.id).first('n'), table).toBe(0);
		}
	});
});

describe('hints for password mailboxes the providers refuse (SPEC §12)', () => {
	const refused = (reply: string, auth: 'password' | 'oauth2' = 'password') =>
		classify({ stage: 'auth', failure: { kind: 'reply', reply: parseReply(reply)! }, encryption: 'starttls', port: 587, host: 'smtp.office365.com', auth, timeoutSeconds: 10 }).hint;

	it('names the Sign in with Microsoft 365 / Google option', () => {
		expect(refused('550 5.7.30 Basic authentication is not supported for Client Submission.')).toContain('press Sign in with Microsoft (OAuth)');
		expect(refused('535 5.7.139 Authentication unsuccessful, the request did not meet the criteria to be authenticated successfully.')).toContain('press Sign in with Microsoft (OAuth)');
		expect(refused('534 5.7.9 Application-specific password required.')).toContain('Sign in with Google');
		expect(refused('535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant.', 'oauth2')).toContain('enable authenticated SMTP');
		expect(refused('535 5.7.3 Authentication unsuccessful', 'oauth2')).toContain('Reconnect');
		const xoauthOnly = classify({ stage: 'auth', failure: { kind: 'no-auth-method', offered: ['xoauth2'] }, encryption: 'starttls', port: 587, host: 'smtp.example.com', timeoutSeconds: 10 });
		expect(xoauthOnly.hint).toContain('press Sign in with Microsoft / Google');
	});
});


