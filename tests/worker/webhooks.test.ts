/**
 * The help desk's side (SPEC §11) through the real Worker in workerd: webhook settings and
 * their URL rules, Standard Webhooks signatures verified with the `standardwebhooks` package
 * (what a help desk uses) at a real receiver on loopback (tests/worker/webhook-receiver.ts),
 * retries with the same webhook-id, nothing lost between the log write and the queue, and
 * API keys scoped to their integration on every route.
 */
import { env } from 'cloudflare:test';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it, vi } from 'vitest';
import type { OutboundItem } from '../../src/lib/schema/outbound';
import { claimEvent, finishEventAttempt, touchEvent } from '../../worker/db/webhooks';
import { consumeWebhooks } from '../../worker/webhooks/consumer';
import { signWebhook } from '../../worker/webhooks/sign';
import { sweepWebhooks } from '../../worker/webhooks/sweep';
import { buildMessage } from './build-message';
import { handOver } from './deliver';
import { call, createIntegration, fetchWithEnv, mailboxInput, TOKEN, unique } from './helpers';
import { servicesFrom } from '../../worker/services';

vi.setConfig({ testTimeout: 40_000 });

const receiver = env.WEBHOOK_TEST_ORIGIN;
const ports = JSON.parse(env.SMTP_TEST_PORTS) as Record<string, number>;

interface Received {
	path: string;
	headers: Record<string, string>;
	body: string;
}

async function receivedAt(path: string): Promise<Received[]> {
	return (await (await fetch(`${receiver}/__received?path=${encodeURIComponent(path)}`)).json()) as Received[];
}

async function waitReceived(path: string, count = 1, timeoutMs = 15_000): Promise<Received[]> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const got = await receivedAt(path);
		if (got.length >= count) return got;
		if (Date.now() > deadline) throw new Error(`${path}: ${got.length} of ${count} webhooks`);
		await new Promise((resolve) => setTimeout(resolve, 150));
	}
}

/** An integration with a webhook to `path` at the receiver, and one mailbox sending to the outbound peer. */
async function setup(path: string, events?: string[]) {
	const integration = await createIntegration();
	const answer = await call('PATCH', `/api/integrations/${integration.id}`, { body: { webhook: { url: `${receiver}${path}`, ...(events ? { events } : {}) } } });
	expect(answer.status, answer.text).toBe(200);
	const created = await call('POST', '/api/mailboxes', {
		body: mailboxInput(integration.id, {
			name: 'Acme Support',
			smtp: { host: '127.0.0.1', port: ports.outbound, username: 'support@acme.test', password: 'Corr3ct-h0rse-battery', encryption: 'none' }
		})
	});
	expect(created.status, created.text).toBe(201);
	const secret = (await call('GET', `/api/integrations/${integration.id}/webhook-secret`)).body.secret as string;
	return { integration, mailbox: created.body as { id: string; address: string }, secret };
}

/** Delivers through email() as Email Routing does; returns the refusal, if any. */
async function deliverTo(address: string, raw: Uint8Array, options: { from?: string; overrides?: Partial<Env> } = {}) {
	return (await handOver(raw, { from: options.from ?? 'alice@customer.example', to: address, hopIp: '192.0.2.44', overrides: options.overrides })).rejected;
}

function verify(secret: string, hook: Received) {
	return new Webhook(secret).verify(hook.body, hook.headers) as { type: string; timestamp: string; data: any };
}

describe('signing', () => {
	it('signs exactly as the standardwebhooks package does, for any body and secret', async () => {
		const cases: Array<[string, string]> = [
			['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', '{"type":"message.received","data":{"text":"Grüße ✓"}}'],
			[`whsec_${btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))))}`, 'x'.repeat(300_000)]
		];
		for (const [secret, payload] of cases) {
			const at = new Date('2026-11-30T09:00:00Z');
			expect(await signWebhook({ id: 'msg_2KWPBgLlAfxdpx2AI54pPJ85f4W', payload, secret, at })).toBe(new Webhook(secret).sign('msg_2KWPBgLlAfxdpx2AI54pPJ85f4W', at, payload));
		}
	});
});

describe('webhook settings', () => {
	it('makes a whsec_ secret on first set, keeps it sealed at rest, reveals and rotates it on request', async () => {
		const { integration, secret } = await setup(`/ok/${unique('settings')}`);
		expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
		const read = await call('GET', `/api/integrations/${integration.id}`);
		expect(read.body.webhook).toMatchObject({ events: ['message.received', 'outbound.sent', 'outbound.failed', 'outbound.bounced'] });
		expect(read.text).not.toContain(secret.slice(6));
		const row = await env.DB.prepare('SELECT * FROM integrations WHERE id = ?1').bind(integration.id).first();
		expect(JSON.stringify(row)).not.toContain(secret.slice(6));
		// Editing the events keeps the secret; rotating replaces it.
		await call('PATCH', `/api/integrations/${integration.id}`, { body: { webhook: { url: read.body.webhook.url, events: ['message.received', 'message.rejected'] } } });
		expect((await call('GET', `/api/integrations/${integration.id}/webhook-secret`)).body.secret).toBe(secret);
		const rotated = await call('POST', `/api/integrations/${integration.id}/webhook-secret`);
		expect(rotated.body.secret).toMatch(/^whsec_/);
		expect(rotated.body.secret).not.toBe(secret);
		// Removing the webhook removes its secret.
		expect((await call('PATCH', `/api/integrations/${integration.id}`, { body: { webhook: null } })).body.webhook).toBeNull();
		expect((await call('GET', `/api/integrations/${integration.id}/webhook-secret`)).status).toBe(409);
	});

	it('refuses http, private, loopback and link-local hosts in every spelling, and credentials, unless allowed', async () => {
		const integration = await createIntegration();
		const patch = (url: string) =>
			fetchWithEnv(
				new Request(`https://mailgate.test/api/integrations/${integration.id}`, {
					method: 'PATCH',
					headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
					body: JSON.stringify({ webhook: { url } })
				}),
				{ ALLOW_PRIVATE_WEBHOOK_HOSTS: 'false' }
			);
		const refused = [
			'http://desk.example.com/hook',
			'https://127.0.0.1/hook',
			'https://127.1/hook',
			'https://2130706433/hook',
			'https://0x7f000001/hook',
			'https://0177.0.0.1/hook',
			'https://10.1.2.3/hook',
			'https://172.20.0.1/hook',
			'https://192.168.1.1/hook',
			'https://100.64.0.1/hook',
			'https://169.254.169.254/latest/meta-data',
			'https://0.0.0.0/hook',
			'https://[::1]/hook',
			'https://[::ffff:127.0.0.1]/hook',
			'https://[::ffff:a9fe:a9fe]/hook',
			'https://[fd00::1]/hook',
			'https://[fe80::1]/hook',
			'https://localhost/hook',
			'https://desk.internal/hook',
			'https://intranet/hook',
			'https://user:pass@desk.example.com/hook',
			'not a url'
		];
		for (const url of refused) {
			const response = await patch(url);
			const body = (await response.json()) as any;
			expect(response.status, url).toBe(422);
			expect(body.error.fields['webhook.url'], url).toBeTruthy();
		}
		expect((await patch('https://desk.example.com/hooks/mailgate')).status).toBe(200);
		// Allowed locally (npm start, the tests).
		expect((await call('PATCH', `/api/integrations/${integration.id}`, { body: { webhook: { url: `${receiver}/ok/local` } } })).status).toBe(200);
		expect((await call('PATCH', `/api/integrations/${integration.id}`, { body: { webhook: { url: 'https://desk.example.com/h', events: ['nope'] } } })).status).toBe(422);
	});
});

describe('delivery', () => {
	it('delivers message.received signed, verifiable with the standardwebhooks package, with reply text, thread and attachment URLs', async () => {
		const path = `/ok/${unique('received')}`;
		const { mailbox, secret } = await setup(path);
		// A reply of ours, then the customer's answer to it.
		const sent = await call<OutboundItem>('POST', `/api/mailboxes/${mailbox.id}/outbound`, {
			body: { to: ['alice@customer.example'], subject: 'Your order', text: 'It shipped.', metadata: { ticket: 'T-77' } }
		});
		expect(sent.status).toBe(202);
		const answerId = `${unique('answer')}@customer.example`;
		const raw = buildMessage({
			messageId: answerId,
			to: mailbox.address,
			subject: 'Re: Your order',
			headers: [
				['In-Reply-To', `<${sent.body.messageId}>`],
				['References', `<${sent.body.messageId}>`]
			],
			multipart: 'mixed',
			parts: [
				{ body: 'Thanks, got it!\n\nOn Mon, 30 Nov 2026 at 09:12, Acme Support <support@acme.example.com> wrote:\n> It shipped.\n' },
				{ contentType: 'application/pdf; name="receipt.pdf"', disposition: 'attachment; filename="receipt.pdf"', transferEncoding: 'base64', body: btoa('%PDF-1.4 fake') }
			]
		});
		expect(await deliverTo(mailbox.address, raw)).toBeNull();
		const [hook] = await waitReceived(path);
		const event = verify(secret, hook!);
		expect(event.type).toBe('message.received');
		expect(hook!.headers['webhook-id']).toMatch(/^msg_/);
		expect(hook!.headers['content-type']).toBe('application/json');
		const data = event.data;
		expect(data).toMatchObject({
			messageId: answerId,
			verdict: 'accepted',
			kind: 'message',
			mailbox: { id: mailbox.id, address: mailbox.address, name: 'Acme Support' },
			reply: 'Thanks, got it!',
			inReplyTo: sent.body.messageId,
			references: [sent.body.messageId],
			autoReply: false,
			thread: { outboundId: sent.body.id, metadata: { ticket: 'T-77' } },
			truncated: false
		});
		expect(data.text).toContain('> It shipped.');
		expect(data.rawUrl).toBe(`/api/messages/${data.id}/raw`);
		expect(data.attachments).toEqual([{ index: 0, filename: 'receipt.pdf', contentType: 'application/pdf', size: 13, url: `/api/messages/${data.id}/attachments/0` }]);
		// The attachment URL answers the bytes, as a download that no browser renders.
		const file = await call('GET', data.attachments[0].url);
		expect(file.text).toBe('%PDF-1.4 fake');
		expect(file.headers.get('content-disposition')).toMatch(/^attachment; filename="receipt.pdf"/);
		expect(file.headers.get('x-content-type-options')).toBe('nosniff');
		expect((await call('GET', `/api/messages/${data.id}/attachments/1`)).status).toBe(404);
		// A wrong secret does not verify.
		expect(() => new Webhook(`whsec_${btoa('x'.repeat(32))}`).verify(hook!.body, hook!.headers)).toThrow();
	});

	it('retries a failing help desk with the same webhook-id until it answers 2xx, keeping every attempt', async () => {
		const path = `/fail/2/${unique('retry')}`;
		const { integration, mailbox, secret } = await setup(path);
		await deliverTo(mailbox.address, buildMessage({ messageId: `${unique('r')}@customer.example`, to: mailbox.address, parts: [{ body: 'Hello?' }] }));
		const [first] = await waitReceived(path);
		const deliveries = async () => (await call('GET', `/api/integrations/${integration.id}/webhook-deliveries`)).body.items;
		let [delivery] = await deliveries();
		for (let i = 0; i < 20 && delivery.attempts.length === 0; i++) [delivery] = await deliveries();
		expect(delivery).toMatchObject({ type: 'message.received', status: 'pending' });
		expect(delivery.attempts[0]).toMatchObject({ status: 500, error: expect.stringMatching(/answered 500/) });
		expect(delivery.attempts[0].response).toHaveLength(1024);
		const wait = Date.parse(delivery.nextAttemptAt) - Date.parse(delivery.attempts[0].at);
		expect(wait).toBe(30_000);
		// The delayed queue message, then the next one, as the queue would hand them over.
		for (const attempt of [1, 2]) {
			const current = (await deliveries())[0];
			await consumeWebhooks([{ body: { id: current.id }, ack: () => {}, retry: () => {} }], servicesFrom(env), { now: () => new Date(Date.parse(current.nextAttemptAt) + 1_000) });
			expect((await deliveries())[0].attempts).toHaveLength(attempt + 1);
		}
		const done = (await deliveries())[0];
		expect(done.status).toBe('delivered');
		expect(done.attempts.map((a: { status: number }) => a.status)).toEqual([500, 500, 200]);
		const hooks = await receivedAt(path);
		expect(hooks).toHaveLength(3);
		expect(new Set(hooks.map((h) => h.headers['webhook-id'])).size).toBe(1);
		expect(hooks.map((h) => h.body)).toEqual([first!.body, first!.body, first!.body]);
		for (const hook of hooks) expect(verify(secret, hook).type).toBe('message.received');
		// Redelivered after success: nothing is sent again.
		await consumeWebhooks([{ body: { id: done.id }, ack: () => {}, retry: () => {} }], servicesFrom(env));
		expect(await receivedAt(path)).toHaveLength(3);
	});

	it('Send now pushes an event waiting for its retry at once, under the same webhook-id, and never twice', async () => {
		const path = `/fail/1/${unique('send-now')}`;
		const { integration, mailbox, secret } = await setup(path);
		await deliverTo(mailbox.address, buildMessage({ messageId: `${unique('n')}@customer.example`, to: mailbox.address, parts: [{ body: 'Now?' }] }));
		await waitReceived(path);
		const deliveries = async () => (await call('GET', `/api/integrations/${integration.id}/webhook-deliveries`)).body.items;
		let [waiting] = await deliveries();
		for (let i = 0; i < 20 && waiting.attempts.length === 0; i++) [waiting] = await deliveries();
		expect(waiting).toMatchObject({ status: 'pending', attempts: [{ status: 500 }] });
		const scheduled = waiting.nextAttemptAt as string;
		expect(Date.parse(scheduled)).toBeGreaterThan(Date.now());

		// Being delivered right now: refused, in plain words.
		await env.DB.prepare("UPDATE webhook_events SET status = 'delivering' WHERE id = ?1").bind(waiting.id).run();
		const busy = await call('POST', `/api/integrations/${integration.id}/webhook-deliveries/${waiting.id}/resend`);
		expect(busy.status).toBe(409);
		expect(busy.body.error.message).toMatch(/being sent right now/);
		await env.DB.prepare("UPDATE webhook_events SET status = 'pending' WHERE id = ?1").bind(waiting.id).run();

		const pushed = await call('POST', `/api/integrations/${integration.id}/webhook-deliveries/${waiting.id}/resend`);
		expect(pushed.status, pushed.text).toBe(202);
		expect(pushed.body).toMatchObject({ id: waiting.id, status: 'pending', nextAttemptAt: null });
		// Delivered well before the 30-second retry was due.
		const hooks = await waitReceived(path, 2);
		expect(Date.now()).toBeLessThan(Date.parse(scheduled));
		await expect.poll(async () => (await deliveries())[0].status, { timeout: 10_000 }).toBe('delivered');
		const done = (await deliveries())[0];
		expect(done.id).toBe(waiting.id);
		expect(done.attempts.map((a: { status: number }) => a.status)).toEqual([500, 200]);
		expect(new Set(hooks.map((h) => h.headers['webhook-id']))).toEqual(new Set([waiting.id]));
		for (const hook of hooks) expect(verify(secret, hook).type).toBe('message.received');
		// The first attempt's delayed queue message arrives when it was due: nothing is sent again.
		await consumeWebhooks([{ body: { id: waiting.id }, ack: () => {}, retry: () => {} }], servicesFrom(env), { now: () => new Date(Date.parse(scheduled) + 1_000) });
		expect(await receivedAt(path)).toHaveLength(2);
		expect((await deliveries()).filter((d: { id: string }) => d.id === waiting.id)).toHaveLength(1);
	});

	it('records an attempt only under its claim: a late answer to a consumer whose lease ran out does not undo a delivery made since', async () => {
		const path = `/ok/${unique('late')}`;
		const { integration } = await setup(path);
		const test = await call('POST', `/api/integrations/${integration.id}/webhook-test`);
		expect(test.body.ok).toBe(true);
		const id = test.body.id as string;
		const attempt = (status: number) => ({ at: new Date().toISOString(), status, durationMs: 5, response: status === 200 ? 'ok' : 'busy' });
		// A retry of it is claimed, and that consumer stalls past its lease: the sweep takes it back and another claims it.
		await env.DB.prepare("UPDATE webhook_events SET status = 'pending', next_attempt_at = NULL WHERE id = ?1").bind(id).run();
		const stale = (await claimEvent(env.DB, id, new Date(Date.now() - 10 * 60_000)))!;
		await touchEvent(env.DB, id, new Date(Date.now() - 1_000).toISOString());
		const current = (await claimEvent(env.DB, id, new Date()))!;
		await finishEventAttempt(env.DB, current, { status: 'delivered', attempt: attempt(200), nextAttemptAt: null });
		// The stalled consumer's answer comes at last: a 500, which would have made it pending again.
		await finishEventAttempt(env.DB, stale, { status: 'pending', attempt: attempt(500), nextAttemptAt: new Date(Date.now() + 30_000).toISOString() });
		const [delivery] = (await call('GET', `/api/integrations/${integration.id}/webhook-deliveries`)).body.items.filter((item: { id: string }) => item.id === id);
		expect(delivery).toMatchObject({ status: 'delivered', nextAttemptAt: null });
		expect(delivery.attempts.map((a: { status: number }) => a.status)).toEqual([200, 200]);
	});

	it('records a timeout as a failed attempt after 10 seconds', async () => {
		const path = `/slow/${unique('slow')}`;
		const { integration } = await setup(path);
		const started = Date.now();
		const test = await call('POST', `/api/integrations/${integration.id}/webhook-test`);
		expect(Date.now() - started).toBeGreaterThanOrEqual(9_900);
		expect(test.body).toMatchObject({ ok: false, attempt: { status: null, error: 'No answer within 10 seconds.' } });
	});

	it('keeps the event when the queue send fails after the log write, and the sweep delivers it', async () => {
		const path = `/ok/${unique('lost')}`;
		const { mailbox, integration } = await setup(path);
		const broken = { sendBatch: async () => { throw new Error('queue unavailable'); }, send: async () => { throw new Error('queue unavailable'); } };
		const spy = vi.spyOn(console, 'error').mockImplementation(() => {});
		await deliverTo(mailbox.address, buildMessage({ messageId: `${unique('lost')}@customer.example`, to: mailbox.address, parts: [{ body: 'Still there?' }] }), {
			overrides: { WEBHOOK_QUEUE: broken as unknown as Queue }
		});
		spy.mockRestore();
		const [pending] = (await call('GET', `/api/integrations/${integration.id}/webhook-deliveries`)).body.items;
		expect(pending).toMatchObject({ type: 'message.received', status: 'pending', attempts: [] });
		expect(await receivedAt(path)).toHaveLength(0);
		// As the sweep finds it a few minutes later.
		await env.DB.prepare('UPDATE webhook_events SET created_at = ?1 WHERE id = ?2').bind(new Date(Date.now() - 3 * 60_000).toISOString(), pending.id).run();
		expect((await sweepWebhooks(servicesFrom(env), new Date())).enqueued).toBeGreaterThanOrEqual(1);
		await waitReceived(path);
	});

	it('sends outbound.sent with the outbound item, never bounces or refused mail as message.received, and message.rejected only when chosen', async () => {
		const path = `/ok/${unique('events')}`;
		const { integration, mailbox, secret } = await setup(path, ['message.received', 'message.rejected', 'outbound.sent']);
		const sent = await call<OutboundItem>('POST', `/api/mailboxes/${mailbox.id}/outbound`, { body: { to: ['bo@customer.example'], subject: 'Hi', text: 'x', metadata: { ticket: '9' } } });
		const [hook] = await waitReceived(path);
		const event = verify(secret, hook!);
		expect(event.type).toBe('outbound.sent');
		expect(event.data).toMatchObject({ id: sent.body.id, status: 'sent', metadata: { ticket: '9' }, messageId: sent.body.messageId });
		expect(event.data.attempts).toHaveLength(1);

		// A manual forward is refused by the mailbox's default policy: message.rejected.
		const forward = buildMessage({
			messageId: `${unique('fwd')}@customer.example`,
			to: mailbox.address,
			subject: 'Fwd: invoice',
			parts: [{ body: '---------- Forwarded message ---------\nFrom: Someone <s@x.example>\nDate: Mon\nSubject: invoice\nTo: <a@b.example>\n\nPlease pay.' }]
		});
		expect(await deliverTo(mailbox.address, forward)).toMatch(/forward/i);
		const hooks = await waitReceived(path, 2);
		const rejected = verify(secret, hooks[1]!);
		expect(rejected.type).toBe('message.rejected');
		expect(rejected.data.reason).toMatch(/forward/i);
		// Turned off: no message.rejected.
		await call('PATCH', `/api/integrations/${integration.id}`, { body: { webhook: { url: `${receiver}${path}`, events: ['message.received'] } } });
		await deliverTo(mailbox.address, buildMessage({ messageId: `${unique('fwd2')}@customer.example`, to: mailbox.address, subject: 'Fwd: again', parts: [{ body: '---------- Forwarded message ---------\nFrom: S <s@x.example>\n\nx' }] }));
		await new Promise((resolve) => setTimeout(resolve, 2_000));
		expect(await receivedAt(path)).toHaveLength(2);
	});
});

describe('HTML-only mail', () => {
	it('gets a plain-text rendition in the log and the payload, marked as derived from HTML', async () => {
		const path = `/ok/${unique('html')}`;
		const { mailbox, secret } = await setup(path);
		const id = `${unique('html')}@customer.example`;
		await deliverTo(mailbox.address, buildMessage({ messageId: id, to: mailbox.address, parts: [{ contentType: 'text/html; charset=utf-8', body: '<html><body><p>Hello <b>team</b>,</p><p>see <a href="https://example.org/x">the page</a>.</p><script>alert(1)</script></body></html>' }] }));
		const log = await call('GET', `/api/messages?messageId=${encodeURIComponent(id)}`);
		const detail = (await call('GET', `/api/messages/${log.body.items[0].id}`)).body;
		expect(detail.textFromHtml).toBe(true);
		expect(detail.text).toMatch(/Hello team/i);
		expect(detail.text).toContain('https://example.org/x');
		expect(detail.text).not.toContain('alert(1)');
		const [hook] = await waitReceived(path);
		const event = verify(secret, hook!);
		expect(event.data.textFromHtml).toBe(true);
		expect(event.data.text).toBe(detail.text);
	});
});

describe('API keys', () => {
	it('are shown once, stored as SHA-256 only, listed with lastUsedAt, and revoked at once', async () => {
		const integration = await createIntegration();
		const created = await call('POST', `/api/integrations/${integration.id}/keys`, { body: { name: 'Help desk' } });
		expect(created.status).toBe(201);
		const key = created.body.key as string;
		expect(key).toMatch(/^mgk_[A-Za-z0-9_-]{43}$/);
		const listed = await call('GET', `/api/integrations/${integration.id}/keys`);
		expect(listed.body.items).toEqual([{ id: created.body.id, name: 'Help desk', createdAt: created.body.createdAt, lastUsedAt: null }]);
		expect(listed.text).not.toContain(key);
		const { results } = await env.DB.prepare('SELECT * FROM api_keys').all();
		expect(JSON.stringify(results)).not.toContain(key);
		const hash = [...new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(key)))].map((b) => b.toString(16).padStart(2, '0')).join('');
		expect(results.some((row) => row.key_hash === hash)).toBe(true);

		expect((await call('GET', '/api/mailboxes', { token: key })).status).toBe(200);
		expect((await call('GET', `/api/integrations/${integration.id}/keys`)).body.items[0].lastUsedAt).not.toBeNull();
		expect((await call('DELETE', `/api/integrations/${integration.id}/keys/${created.body.id}`)).status).toBe(204);
		const revoked = await call('GET', '/api/mailboxes', { token: key });
		expect(revoked.status).toBe(401);
		expect(revoked.body.error.message).toMatch(/revoked/);
		expect((await call('GET', '/api/mailboxes', { token: 'mgk_' + 'A'.repeat(43) })).status).toBe(401);
	});

	it('reach only their integration: its records, 404 for another\'s, 403 for every other route', async () => {
		const mine = await setup(`/ok/${unique('scope-a')}`);
		const theirs = await setup(`/ok/${unique('scope-b')}`);
		const key = (await call('POST', `/api/integrations/${mine.integration.id}/keys`, { body: { name: 'Desk A' } })).body.key as string;
		const as = (method: string, path: string, body?: unknown) => call(method, path, { token: key, body });

		// Mail and replies on both sides.
		const myMail = `${unique('a')}@customer.example`;
		const theirMail = `${unique('b')}@customer.example`;
		await deliverTo(mine.mailbox.address, buildMessage({ messageId: myMail, to: mine.mailbox.address, parts: [{ body: 'a' }] }));
		await deliverTo(theirs.mailbox.address, buildMessage({ messageId: theirMail, to: theirs.mailbox.address, parts: [{ body: 'b' }] }));
		const myMessage = (await call('GET', `/api/messages?messageId=${encodeURIComponent(myMail)}`)).body.items[0];
		const theirMessage = (await call('GET', `/api/messages?messageId=${encodeURIComponent(theirMail)}`)).body.items[0];
		const theirReply = (await call('POST', `/api/mailboxes/${theirs.mailbox.id}/outbound`, { body: { to: ['x@customer.example'], subject: 's', text: 't', inReplyTo: theirMessage.id } })).body;

		// Lists are narrowed to the key's integration.
		expect((await as('GET', '/api/mailboxes')).body.items.map((m: { id: string }) => m.id)).toEqual([mine.mailbox.id]);
		const messages = (await as('GET', '/api/messages')).body.items;
		expect(messages.map((m: { id: string }) => m.id)).toContain(myMessage.id);
		expect(messages.every((m: { mailboxId: string }) => m.mailboxId === mine.mailbox.id)).toBe(true);
		expect((await as('GET', `/api/messages?mailboxId=${theirs.mailbox.id}`)).status).toBe(404);
		expect((await as('GET', '/api/messages?mailboxId=none')).status).toBe(403);

		// Its own records answer.
		expect((await as('GET', `/api/mailboxes/${mine.mailbox.id}`)).status).toBe(200);
		expect((await as('GET', `/api/messages/${myMessage.id}`)).status).toBe(200);
		expect((await as('GET', `/api/messages/${myMessage.id}/raw`)).status).toBe(200);
		const myReply = await as('POST', `/api/mailboxes/${mine.mailbox.id}/outbound`, { to: ['y@customer.example'], subject: 's', text: 't', inReplyTo: myMessage.id });
		expect(myReply.status).toBe(202);
		expect((await as('GET', `/api/outbound/${myReply.body.id}`)).status).toBe(200);
		expect((await as('GET', `/api/outbound/${myReply.body.id}/raw`)).status).toBe(200);
		expect((await as('GET', '/api/outbound')).body.items.map((i: { id: string }) => i.id)).toEqual([myReply.body.id]);
		// The replies to one message (SPEC §16) are narrowed like every list: another's message has none to show.
		expect((await as('GET', `/api/outbound?replyToLogId=${myMessage.id}`)).body.items.map((i: { id: string }) => i.id)).toEqual([myReply.body.id]);
		expect((await call('GET', `/api/outbound?replyToLogId=${theirMessage.id}`)).body.items.map((i: { id: string }) => i.id)).toEqual([theirReply.id]);
		expect((await as('GET', `/api/outbound?replyToLogId=${theirMessage.id}`)).body.items).toEqual([]);
		expect((await as('GET', `/api/outbound?replyToLogId=${theirMessage.id}&mailboxId=${theirs.mailbox.id}`)).status).toBe(404);

		// Another integration's records are 404, exactly like missing ones.
		for (const [method, path, body] of [
			['GET', `/api/mailboxes/${theirs.mailbox.id}`],
			['GET', `/api/messages/${theirMessage.id}`],
			['GET', `/api/messages/${theirMessage.id}/raw`],
			['GET', `/api/messages/${theirMessage.id}/attachments/0`],
			['POST', `/api/mailboxes/${theirs.mailbox.id}/outbound`, { to: ['z@customer.example'], subject: 's', text: 't' }],
			['GET', `/api/outbound/${theirReply.id}`],
			['GET', `/api/outbound/${theirReply.id}/raw`],
			['POST', `/api/outbound/${theirReply.id}/retry`],
			['GET', `/api/outbound/${crypto.randomUUID()}`]
		] as Array<[string, string, unknown?]>) {
			expect((await as(method, path, body)).status, `${method} ${path}`).toBe(404);
		}

		// Everything else needs the admin.
		for (const [method, path, body] of [
			['GET', '/api/integrations'],
			['POST', '/api/integrations', { name: 'x' }],
			['GET', `/api/integrations/${mine.integration.id}`],
			['PATCH', `/api/integrations/${mine.integration.id}`, { name: 'x' }],
			['GET', `/api/integrations/${mine.integration.id}/webhook-secret`],
			['POST', `/api/integrations/${mine.integration.id}/webhook-test`],
			['GET', `/api/integrations/${mine.integration.id}/webhook-deliveries`],
			['GET', `/api/integrations/${mine.integration.id}/keys`],
			['POST', `/api/integrations/${mine.integration.id}/keys`, { name: 'more' }],
			['POST', '/api/mailboxes', {}],
			['PATCH', `/api/mailboxes/${mine.mailbox.id}`, { version: 1 }],
			['DELETE', `/api/mailboxes/${mine.mailbox.id}`],
			['POST', `/api/mailboxes/${mine.mailbox.id}/smtp-test`, {}],
			['GET', `/api/mailboxes/${mine.mailbox.id}/smtp-tests`],
			['POST', '/api/smtp-test', {}],
			['GET', '/api/mailbox-health'],
			['GET', '/api/messages/garbled-senders']
		] as Array<[string, string, unknown?]>) {
			expect((await as(method, path, body)).status, `${method} ${path}`).toBe(403);
		}
		// The admin still reaches everything.
		expect((await call('GET', `/api/messages/${theirMessage.id}`)).status).toBe(200);
	});
});
