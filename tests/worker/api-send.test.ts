/**
 * SPEC §14 inside workerd: a mailbox signed in to Microsoft 365 or Google that sends through
 * Microsoft Graph or the Gmail API. The provider stand-in on loopback (scripts/local-oauth.mjs)
 * serves both APIs, checks the access token and its scope, records the MIME it receives and can
 * be told what to answer next. The sending test, a reply and the mail flow check's probe go
 * through each API; every row of §14's answer table is asked for and read back (category,
 * temporary, hint, the provider's words); Retry-After, the 401 renewal, the size limit and the
 * Bcc header; no token in any answer, log, transcript or D1 row.
 */
import { env } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { FlowCheck } from '../../src/lib/schema/flow-check';
import type { OutboundItem } from '../../src/lib/schema/outbound';
import { findMailbox } from '../../worker/db/mailboxes';
import { smtpLoginFor } from '../../worker/send/credentials';
import { openSender } from '../../worker/send/mailbox-sender';
import { QUEUE_TIMEOUTS } from '../../worker/send/timeouts';
import { GRAPH_MAX_MIME_BYTES } from '../../worker/send/api-answers';
import { servicesFrom } from '../../worker/services';
import { deliver } from './deliver';
import { createIntegration, mailboxInput, unique } from './helpers';
import { api, refreshCount, signIn, standIn, waitForCheck, waitForOutbound, watchTokens, type ApiRequestRecord, type Provider } from './oauth-kit';

vi.setConfig({ testTimeout: 30_000 });
watchTokens();

/** The API as a sentence starts with it. */
const API_NAME: Record<Provider, string> = { microsoft: 'Microsoft Graph', google: 'The Gmail API' };
const SENT_STATUS: Record<Provider, number> = { microsoft: 202, google: 200 };

/** Scripts the next answers of one provider's API (none: back to answering for real). */
const script = (provider: Provider, answers: Array<{ status: number; body?: unknown; headers?: Record<string, string> }>) =>
	standIn({ apiAnswers: { provider, answers: answers.map((a) => ({ ...a, body: a.body === undefined ? undefined : JSON.stringify(a.body) })) } });

afterEach(async () => {
	// No access or refresh token the stand-in issued is in any D1 row in clear, after any test.
	const { accessTokens, refreshTokens } = await standIn();
	for (const table of ['outbound', 'smtp_tests', 'flow_checks', 'mailbox_oauth', 'messages']) {
		const text = JSON.stringify((await env.DB.prepare(`SELECT * FROM ${table}`).all()).results);
		for (const token of [...accessTokens, ...refreshTokens]) expect(text, table).not.toContain(token);
	}
	await script('microsoft', []);
	await script('google', []);
	await standIn({ apiDelayMs: 0 });
});

async function apiRequests(account?: string): Promise<ApiRequestRecord[]> {
	const all = (await standIn()).apiRequests ?? [];
	return account ? all.filter((r) => r.account.toLowerCase() === account.toLowerCase()) : all;
}

/** A mailbox that signs in with `provider` and sends through its API: no server, port or encryption given. */
async function apiMailbox(provider: Provider = 'microsoft') {
	const integration = await createIntegration();
	const account = `${unique('desk')}@acme.test`;
	const input = mailboxInput(integration.id, { name: 'Acme Support' });
	const smtp = { username: account, auth: 'oauth2', oauth: { provider }, sendVia: 'api' };
	const created = await api('POST', '/api/mailboxes', { ...input, smtp });
	expect(created.status, created.text).toBe(201);
	expect(created.body.smtp).toMatchObject({ sendVia: 'api', auth: 'oauth2' });
	expect(await signIn(created.body.id, provider)).toBe(`/mailboxes/${created.body.id}?oauth=connected&provider=${provider}`);
	return created.body as { id: string; address: string; name: string; version: number; smtp: { username: string } };
}

/** The mailbox's sender, as the reply consumer opens it, with the API's answer for one message. */
async function sendOne(mailboxId: string, options: { raw?: string; services?: ReturnType<typeof servicesFrom>; sendBudgetMs?: number } = {}) {
	const services = options.services ?? servicesFrom(env);
	const mailbox = (await findMailbox(services.db, mailboxId))!;
	const sender = openSender({
		login: () => smtpLoginFor(services, mailbox),
		timeouts: options.sendBudgetMs ? { ...QUEUE_TIMEOUTS, sendBudgetMs: options.sendBudgetMs } : QUEUE_TIMEOUTS,
		allowPrivateHosts: true
	});
	const raw = options.raw ?? `From: ${mailbox.address}\r\nTo: erin@customer.example\r\nSubject: table\r\nMessage-ID: <${unique('t')}@acme.example.com>\r\n\r\nHello\r\n`;
	const sent = await sender.send({ from: mailbox.address, recipients: ['erin@customer.example'], raw });
	await sender.close();
	return { sent, transcript: [...sender.transcript], steps: [...sender.steps] };
}

describe.each(['microsoft', 'google'] as const)('sending through %s', (provider) => {
	it('the sending test: stages token and send, the API took the message as composed, no token in the transcript', async () => {
		const mailbox = await apiMailbox(provider);
		const test = await api('POST', `/api/mailboxes/${mailbox.id}/smtp-test`, {});
		expect(test.status, test.text).toBe(200);
		expect(test.body).toMatchObject({ ok: true, stage: 'send', category: null });
		expect(test.body.steps.map((s: { stage: string }) => s.stage)).toEqual(['token', 'send']);
		const path = provider === 'microsoft' ? `POST /v1.0/users/${encodeURIComponent(mailbox.smtp.username)}/sendMail` : 'POST /gmail/v1/users/me/messages/send';
		expect(test.body.transcript[0]).toContain(path);
		expect(test.body.transcript[0]).toContain('Authorization: Bearer [redacted]');
		expect(test.body.transcript[1]).toMatch(new RegExp(`^S: ${SENT_STATUS[provider]}`));
		const [request] = (await apiRequests(mailbox.smtp.username)).slice(-1);
		expect(request).toMatchObject({ provider, status: SENT_STATUS[provider], contentType: provider === 'microsoft' ? 'text/plain' : 'application/json' });
		expect(request!.mime).toContain('Subject: Mailgate SMTP test');
		expect(request!.mime).toContain(`From: "Acme Support" <${mailbox.address}>`);
		const { accessTokens } = await standIn();
		for (const token of accessTokens) expect(JSON.stringify(test.body)).not.toContain(token);
	});

	it("the form's settings: the same test, and a switch to the API the grant was not given for says why", async () => {
		const mailbox = await apiMailbox(provider);
		const smtp = { username: mailbox.smtp.username, auth: 'oauth2', oauth: { provider }, sendVia: 'api' };
		const draft = await api('POST', '/api/smtp-test', { mailboxId: mailbox.id, to: 'erin@customer.example', smtp });
		expect(draft.status, draft.text).toBe(200);
		expect(draft.body).toMatchObject({ ok: true, stage: 'send', settings: 'form' });

		// A mailbox signed in for SMTP, whose form now says the API: its grant lacks the API's scope.
		const integration = await createIntegration();
		const smtpMailbox = await api('POST', '/api/mailboxes', {
			...mailboxInput(integration.id),
			smtp: { host: '127.0.0.1', port: 2525, encryption: 'starttls', username: `${unique('desk')}@acme.test`, auth: 'oauth2', oauth: { provider } }
		});
		expect(smtpMailbox.status, smtpMailbox.text).toBe(201);
		await signIn(smtpMailbox.body.id, provider);
		const before = await refreshCount();
		const switched = await api('POST', '/api/smtp-test', { mailboxId: smtpMailbox.body.id, to: 'erin@customer.example', smtp: { ...smtp, username: smtpMailbox.body.smtp.username } });
		expect(switched.body).toMatchObject({ ok: false, stage: 'token', category: 'auth' });
		expect(switched.body.hint).toContain('Reconnect');
		expect(switched.body.hint).toContain('its own consent');
		// The provider was not asked for a token the grant does not cover.
		expect(await refreshCount()).toBe(before);
	});

	it('a reply: sent, the same Message-ID and From as composed, Bcc as a header only in what the API got', async () => {
		const mailbox = await apiMailbox(provider);
		const posted = await api<OutboundItem>('POST', `/api/mailboxes/${mailbox.id}/outbound`, {
			to: ['erin@customer.example'],
			bcc: ['audit@acme.example.com'],
			subject: 'Re: your question',
			text: 'Answered through the API.'
		});
		expect(posted.status, posted.text).toBe(202);
		const reply = await waitForOutbound(posted.body.id);
		expect(reply.status, JSON.stringify(reply.attempts)).toBe('sent');
		expect(reply.attempts.at(-1)).toMatchObject({ ok: true, stage: 'send', code: SENT_STATUS[provider] });
		expect(reply.attempts.at(-1)!.hint).toContain(`${API_NAME[provider]} accepted the message`);
		const request = (await apiRequests(mailbox.smtp.username)).find((r) => r.mime.includes(`<${reply.messageId}>`));
		expect(request).toBeDefined();
		expect(request!.mime).toMatch(/^Bcc: audit@acme\.example\.com\r\n/);
		const stored = await api('GET', `/api/outbound/${reply.id}/raw`);
		expect(stored.text).not.toContain('Bcc:');
		// Every other byte is the stored message.
		expect(request!.mime).toBe(`Bcc: audit@acme.example.com\r\n${stored.text}`);
		if (provider === 'google') expect(reply.attempts.at(-1)!.providerMessageId).toMatch(/^[0-9a-z]+$/i);
	});

	it('the probe goes through the API and completes its round trip when it comes back', async () => {
		const mailbox = await apiMailbox(provider);
		const started = await api<FlowCheck>('POST', `/api/mailboxes/${mailbox.id}/flow-check`, {});
		expect(started.status, started.text).toBe(202);
		const waiting = await waitForCheck(mailbox.id, started.body.id, (c) => c.roundTrip.step !== 'sending');
		expect(waiting.roundTrip).toMatchObject({ step: 'waiting', smtp: { ok: true, stage: 'send', code: SENT_STATUS[provider] } });
		expect(waiting.roundTrip.says).toContain(API_NAME[provider]);
		const probe = (await apiRequests(mailbox.smtp.username)).find((r) => r.mime.includes('X-Mailgate-Probe:'));
		expect(probe).toBeDefined();
		await deliver(probe!.mime, { from: mailbox.address, to: mailbox.address, hopIp: '40.107.22.1' });
		const done = await waitForCheck(mailbox.id, started.body.id, (c) => c.roundTrip.step !== 'waiting');
		expect(done.roundTrip.step).toBe('arrived');
	});
});

describe("SPEC §14's table: what each answer means", () => {
	const rows: Array<{ name: string; provider: Provider; status: number; body?: unknown; headers?: Record<string, string>; expect: Record<string, unknown>; hint: RegExp; words?: string }> = [
		{
			name: 'Graph 403 ErrorSendAsDenied',
			provider: 'microsoft',
			status: 403,
			body: { error: { code: 'ErrorSendAsDenied', message: 'The user account which was used to submit this request does not have the right to send mail on behalf of the specified sending account.' } },
			expect: { category: 'rejected', temporary: false },
			hint: /"Send As" permission/,
			words: 'ErrorSendAsDenied: The user account which was used'
		},
		{
			name: 'Graph 403 ErrorAccessDenied',
			provider: 'microsoft',
			status: 403,
			body: { error: { code: 'ErrorAccessDenied', message: 'Access is denied. Check credentials and try again.' } },
			expect: { category: 'auth', temporary: false },
			hint: /consent to sending mail was not given.*admin consent/,
			words: 'ErrorAccessDenied: Access is denied.'
		},
		{
			name: 'Gmail 403 insufficientPermissions',
			provider: 'google',
			status: 403,
			body: { error: { code: 403, message: 'Request had insufficient authentication scopes.', status: 'PERMISSION_DENIED', errors: [{ reason: 'insufficientPermissions' }] } },
			expect: { category: 'auth', temporary: false },
			hint: /consent to sending mail was not given/,
			words: 'PERMISSION_DENIED, insufficientPermissions: Request had insufficient authentication scopes.'
		},
		{
			name: 'Graph 404 MailboxNotEnabledForRESTAPI',
			provider: 'microsoft',
			status: 404,
			body: { error: { code: 'MailboxNotEnabledForRESTAPI', message: 'The mailbox is either inactive, soft-deleted, or is hosted on-premise.' } },
			expect: { category: 'config', temporary: false },
			hint: /no Exchange Online mailbox.*licence/
		},
		{
			name: 'Graph 404 ResourceNotFound',
			provider: 'microsoft',
			status: 404,
			body: { error: { code: 'ResourceNotFound', message: 'Resource could not be discovered.' } },
			expect: { category: 'config', temporary: false },
			hint: /no Exchange Online mailbox/
		},
		{
			name: 'Graph 413 ErrorMessageSizeExceeded',
			provider: 'microsoft',
			status: 413,
			body: { error: { code: 'ErrorMessageSizeExceeded', message: 'The message exceeds the maximum supported size.' } },
			expect: { category: 'rejected', temporary: false },
			hint: /too large.*SMTP server/
		},
		{
			name: 'Gmail 400 invalidArgument (a bad recipient)',
			provider: 'google',
			status: 400,
			body: { error: { code: 400, message: 'Invalid To header', status: 'INVALID_ARGUMENT', errors: [{ reason: 'invalidArgument' }] } },
			expect: { category: 'rejected', temporary: false },
			hint: /provider's words name what is wrong/,
			words: 'INVALID_ARGUMENT, invalidArgument: Invalid To header'
		},
		{
			name: 'Graph 429 with Retry-After',
			provider: 'microsoft',
			status: 429,
			body: { error: { code: 'ApplicationThrottled', message: 'Application is over its MailboxConcurrency limit.' } },
			headers: { 'retry-after': '120' },
			// SPEC §15: a provider's limit: the mailbox pauses for the Retry-After.
			expect: { category: 'rejected', temporary: true, retryAfterSeconds: 120, limit: { kind: 'rate', retryAfterSeconds: 120 } },
			hint: /limiting.*wait 2 minutes.*leave by themselves/
		},
		{
			name: 'Gmail 403 userRateLimitExceeded',
			provider: 'google',
			status: 403,
			body: { error: { code: 403, message: 'User-rate limit exceeded.', errors: [{ reason: 'userRateLimitExceeded' }] } },
			expect: { category: 'rejected', temporary: true, limit: { kind: 'rate', retryAfterSeconds: 60 } },
			hint: /limiting/
		},
		{
			name: 'Gmail 403 dailyLimitExceeded',
			provider: 'google',
			status: 403,
			body: { error: { code: 403, message: 'Daily limit exceeded.', errors: [{ reason: 'dailyLimitExceeded' }] } },
			expect: { category: 'rejected', temporary: true, limit: { kind: 'daily', retryAfterSeconds: 3600 } },
			hint: /limiting/
		},
		{
			name: 'Graph 503 with Retry-After',
			provider: 'microsoft',
			status: 503,
			body: { error: { code: 'ServiceUnavailable', message: 'Service unavailable.' } },
			headers: { 'retry-after': '30' },
			expect: { category: 'connection', temporary: true, retryAfterSeconds: 30 },
			hint: /provider's side: it is retried/
		},
		{ name: 'Gmail 500', provider: 'google', status: 500, body: { error: { code: 500, message: 'Backend Error', errors: [{ reason: 'backendError' }] } }, expect: { category: 'connection', temporary: true }, hint: /retried/ },
		{ name: 'Graph 502 (no body)', provider: 'microsoft', status: 502, expect: { category: 'connection', temporary: true }, hint: /HTTP 502/ },
		{ name: 'Gmail 504', provider: 'google', status: 504, expect: { category: 'connection', temporary: true }, hint: /retried/ }
	];
	const mailboxes: Partial<Record<Provider, Promise<{ id: string }>>> = {};
	const mailboxFor = (provider: Provider) => (mailboxes[provider] ??= apiMailbox(provider));

	it.each(rows)('$name', async (row) => {
		const mailbox = await mailboxFor(row.provider);
		await script(row.provider, [{ status: row.status, body: row.body, headers: row.headers }]);
		const { sent, transcript } = await sendOne(mailbox.id);
		expect(sent.ok).toBe(false);
		if (sent.ok) return;
		expect(sent.attempt).toMatchObject({ stage: 'send', code: row.status, mayHaveArrived: false, ...row.expect });
		expect(sent.attempt.hint).toMatch(row.hint);
		if (row.words) expect(sent.attempt.serverMessage).toContain(row.words);
		expect(transcript.at(-1)).toMatch(new RegExp(`^S: ${row.status}`));
	});

	it('a 401 renews the access token once within the same attempt, then sends', async () => {
		const mailbox = await mailboxFor('microsoft');
		await sendOne(mailbox.id); // an access token in the cache
		const before = await refreshCount();
		await script('microsoft', [{ status: 401, body: { error: { code: 'InvalidAuthenticationToken', message: 'Lifetime validation failed, the token is expired.' } } }]);
		const { sent, transcript } = await sendOne(mailbox.id);
		expect(sent.ok, JSON.stringify(sent)).toBe(true);
		expect(await refreshCount()).toBe(before + 1);
		expect(transcript.filter((line) => line.startsWith('C: POST'))).toHaveLength(2);
	});

	it('a 401 again after renewing: auth, not retried, Reconnect', async () => {
		const mailbox = await mailboxFor('google');
		await script('google', [
			{ status: 401, body: { error: { code: 401, message: 'Invalid Credentials', status: 'UNAUTHENTICATED', errors: [{ reason: 'authError' }] } } },
			{ status: 401, body: { error: { code: 401, message: 'Invalid Credentials', status: 'UNAUTHENTICATED', errors: [{ reason: 'authError' }] } } }
		]);
		const { sent } = await sendOne(mailbox.id);
		expect(sent.ok).toBe(false);
		if (sent.ok) return;
		expect(sent.attempt).toMatchObject({ stage: 'send', category: 'auth', temporary: false, code: 401 });
		expect(sent.attempt.hint).toMatch(/again after it was renewed.*Reconnect/);
	});

	it('a 401 and the refresh refused (invalid_grant): stage token, Reconnect, the connection says so', async () => {
		const mailbox = await apiMailbox('microsoft');
		await sendOne(mailbox.id);
		await standIn({ revoke: (await api('GET', `/api/mailboxes/${mailbox.id}`)).body.smtp.username });
		const { sent } = await sendOne(mailbox.id);
		expect(sent.ok).toBe(false);
		if (sent.ok) return;
		expect(sent.attempt).toMatchObject({ stage: 'token', category: 'auth', temporary: false });
		expect(sent.attempt.hint).toContain('Reconnect');
		expect(sent.attempt.hint).toContain('invalid_grant');
		expect((await api('GET', `/api/mailboxes/${mailbox.id}`)).body.smtp.oauth.status).toBe('reconnect');
	});

	it('no answer within the limit: timeout, may have arrived, not sent again by itself', async () => {
		const mailbox = await mailboxFor('microsoft');
		await standIn({ apiDelayMs: 3_000 });
		const { sent } = await sendOne(mailbox.id, { sendBudgetMs: 1_000 });
		expect(sent.ok).toBe(false);
		if (sent.ok) return;
		expect(sent.attempt).toMatchObject({ stage: 'send', category: 'timeout', temporary: false, mayHaveArrived: true });
		expect(sent.attempt.hint).toContain('Sent Items');
	});

	it('the API cannot be reached (nothing listens): connection, retried', async () => {
		const mailbox = await mailboxFor('microsoft');
		const services = servicesFrom({ ...env, OAUTH_MICROSOFT_GRAPH_URL: 'http://127.0.0.1:9' } as Env);
		const { sent, transcript } = await sendOne(mailbox.id, { services });
		expect(sent.ok).toBe(false);
		if (sent.ok) return;
		expect(sent.attempt).toMatchObject({ stage: 'send', category: 'connection', temporary: true, mayHaveArrived: false });
		expect(transcript.at(-1)).toContain('the request did not go out');
	});

	it('the connection breaks after the request went out: timeout, may have arrived, not retried', async () => {
		const mailbox = await mailboxFor('microsoft');
		await script('microsoft', [{ status: 0 }]);
		const { sent } = await sendOne(mailbox.id);
		expect(sent.ok).toBe(false);
		if (sent.ok) return;
		expect(sent.attempt).toMatchObject({ stage: 'send', category: 'timeout', temporary: false, mayHaveArrived: true });
		expect(sent.attempt.hint).toMatch(/connection broke.*Sent Items/);
	});

	it('an API URL that is not https (nor loopback): config at stage token, naming the setting, nothing sent', async () => {
		const mailbox = await mailboxFor('microsoft');
		const before = (await apiRequests()).length;
		const services = servicesFrom({ ...env, OAUTH_MICROSOFT_GRAPH_URL: 'http://graph.example.com' } as Env);
		const { sent } = await sendOne(mailbox.id, { services });
		expect(sent.ok).toBe(false);
		if (sent.ok) return;
		expect(sent.attempt).toMatchObject({ stage: 'token', category: 'config', temporary: false, credential: 'not_configured' });
		expect(sent.attempt.hint).toContain('OAUTH_MICROSOFT_GRAPH_URL (https://)');
		expect((await apiRequests()).length).toBe(before);
	});

	it('a message larger than a Graph request holds fails before any request, naming the size and the SMTP method', async () => {
		const mailbox = await mailboxFor('microsoft');
		const before = (await apiRequests()).length;
		const big = `Subject: big\r\nMessage-ID: <${unique('big')}@acme.example.com>\r\n\r\n${'x'.repeat(76) + '\r\n'}`.repeat(1) + 'y'.repeat(GRAPH_MAX_MIME_BYTES);
		const { sent } = await sendOne(mailbox.id, { raw: big });
		expect(sent.ok).toBe(false);
		if (sent.ok) return;
		expect(sent.attempt).toMatchObject({ stage: 'send', category: 'rejected', temporary: false, mayHaveArrived: false });
		expect(sent.attempt.hint).toMatch(/3\.0 MB.*SMTP server/);
		expect((await apiRequests()).length).toBe(before);
	});
});

describe('Retry-After on a reply', () => {
	it('a throttled reply is deferred no earlier than the provider asked, though the schedule says a minute', async () => {
		const mailbox = await apiMailbox('microsoft');
		await script('microsoft', [{ status: 429, body: { error: { code: 'ErrorExceededMessageLimit', message: 'Too many messages.' } }, headers: { 'retry-after': '7200' } }]);
		const posted = await api<OutboundItem>('POST', `/api/mailboxes/${mailbox.id}/outbound`, { to: ['erin@customer.example'], subject: 'Later', text: 'Throttled.' });
		const deferred = await waitForOutbound(posted.body.id);
		expect(deferred.status).toBe('deferred');
		const attempt = deferred.attempts.at(-1)!;
		expect(attempt).toMatchObject({ stage: 'send', category: 'rejected', temporary: true, code: 429 });
		expect(Date.parse(deferred.nextAttemptAt!) - Date.parse(attempt.at)).toBeGreaterThanOrEqual(7200 * 1000);
	});
});
