/**
 * Rate limits (issue 18) on replies (`POST /api/mailboxes/:id/outbound`) and downloads
 * (`/api/messages/:id/raw`, `/attachments/:index`, `/api/outbound/:id/raw`), per API key and
 * per mailbox, through the real router and D1: over a limit 429 with Retry-After and the SPEC §7
 * error shape; another key or mailbox unaffected; the next window frees it; requests arriving
 * together counted once each; idle counters purged by the daily retention. The limits are lowered
 * through the RATE_LIMITS variable and the clock is injected, so nothing sends hundreds of
 * requests or waits for a minute to pass.
 */
import crypto from 'node:crypto';
import { createScheduledController, env } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { handleApi } from '../../worker/api/router';
import { parseRateLimitOverrides, RATE_LIMITS } from '../../worker/api/rate-limit';
import worker from '../../worker/index';
import { deliver } from './deliver';
import { ORIGIN, TOKEN, call, createIntegration, mailboxInput } from './helpers';
import { servicesFrom } from '../../worker/services';

vi.setConfig({ testTimeout: 30_000 });

const ports = JSON.parse(env.SMTP_TEST_PORTS) as Record<string, number>;
const LIMITS = 'outbound-mailbox=2, outbound-key=3, download-key=3, download-mailbox=6';
/** Five seconds into a minute well ahead of the real clock: every window here is this file's own. */
const T = Math.ceil(Date.now() / 60_000) * 60_000 + 10 * 60_000 + 5_000;
const NEXT_WINDOW = T + 60_000;

async function api(method: string, path: string, options: { token?: string; body?: unknown; at?: number; limits?: string } = {}) {
	const headers: Record<string, string> = { authorization: `Bearer ${options.token ?? TOKEN}` };
	if (options.body !== undefined) headers['content-type'] = 'application/json';
	const request = new Request(`${ORIGIN}${path}`, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
	const response = await handleApi(request, servicesFrom({ ...env, RATE_LIMITS: options.limits ?? LIMITS } as Env), () => new Date(options.at ?? T));
	const text = await response.text();
	let body: any;
	try {
		body = JSON.parse(text);
	} catch {
		body = undefined;
	}
	return { status: response.status, headers: response.headers, body };
}

async function desk(mailboxes: number, keys: number) {
	const integration = await createIntegration();
	const boxes: Array<{ id: string; address: string }> = [];
	for (let i = 0; i < mailboxes; i++) {
		const answer = await call('POST', '/api/mailboxes', {
			body: mailboxInput(integration.id, {
				address: `limits-${crypto.randomBytes(4).toString('hex')}@desk.limits.test`,
				smtp: { host: '127.0.0.1', port: ports.outbound, username: 'support@acme.test', password: 'Corr3ct-h0rse-battery', encryption: 'none' }
			})
		});
		expect(answer.status, answer.text).toBe(201);
		boxes.push(answer.body);
	}
	const tokens: string[] = [];
	for (let i = 0; i < keys; i++) tokens.push((await call('POST', `/api/integrations/${integration.id}/keys`, { body: { name: `Desk ${i}` } })).body.key);
	return { boxes, tokens };
}

const reply = { to: ['customer@example.org'], subject: 'About your order', text: 'It is on its way.' };
const send = (mailboxId: string, options: { token?: string; at?: number } = {}) => api('POST', `/api/mailboxes/${mailboxId}/outbound`, { ...options, body: reply });

function expectLimited(answer: Awaited<ReturnType<typeof api>>, says: string) {
	expect(answer.status).toBe(429);
	// The window ends 55 seconds after T.
	expect(answer.headers.get('retry-after')).toBe('55');
	expect(answer.body).toEqual({ error: { code: 'rate_limited', message: expect.stringContaining(says) } });
}

describe('replies', () => {
	it("a mailbox's limit holds for the admin and API keys alike; another mailbox is unaffected; the next window frees it", async () => {
		const { boxes, tokens } = await desk(2, 1);
		const [a, b] = [boxes[0]!, boxes[1]!];
		expect((await send(a.id)).status).toBe(202);
		expect((await send(a.id)).status).toBe(202);
		const composed = async () => (await env.MAIL_ARCHIVE.list({ prefix: 'outbound/' })).objects.length;
		const before = await composed();
		expectLimited(await send(a.id), 'replies through this mailbox');
		expectLimited(await send(a.id, { token: tokens[0] }), 'replies through this mailbox');
		// The row and its limits are one write (issue 22): a refused reply's bytes are taken back.
		expect(await composed()).toBe(before);
		expect((await send(b.id)).status).toBe(202);
		expect((await send(a.id, { at: NEXT_WINDOW })).status).toBe(202);
		// Refused requests queued nothing.
		const queued = await env.DB.prepare('SELECT COUNT(*) AS n FROM outbound WHERE mailbox_id = ?1').bind(a.id).first<{ n: number }>();
		expect(queued!.n).toBe(3);
	});

	it("an API key's limit spans its integration's mailboxes; another key is unaffected", async () => {
		const { boxes, tokens } = await desk(3, 2);
		const [c, d, e] = [boxes[0]!, boxes[1]!, boxes[2]!];
		const [first, second] = tokens as [string, string];
		expect((await send(c.id, { token: first })).status).toBe(202);
		expect((await send(c.id, { token: first })).status).toBe(202);
		expect((await send(d.id, { token: first })).status).toBe(202);
		expectLimited(await send(e.id, { token: first }), 'replies with this API key');
		expect((await send(e.id, { token: second })).status).toBe(202);
		expect((await send(e.id, { token: first, at: NEXT_WINDOW })).status).toBe(202);
	});
});

/** A message with one attachment in `mailbox`'s log, and a reply of the mailbox's: the three downloads. */
async function downloads(mailbox: { id: string; address: string }) {
	const id = `${crypto.randomUUID()}@sender.limits.test`;
	const raw =
		`From: Customer <c@sender.limits.test>\r\nTo: ${mailbox.address}\r\nSubject: Receipt\r\nMessage-ID: <${id}>\r\nMIME-Version: 1.0\r\n` +
		`Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n` +
		`--b\r\nContent-Type: application/pdf; name="r.pdf"\r\nContent-Disposition: attachment; filename="r.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n${btoa('%PDF-1.4 receipt')}\r\n--b--\r\n`;
	const { item } = await deliver(raw, { from: 'c@sender.limits.test', to: mailbox.address, hopIp: '192.0.2.90' });
	// Sent at another minute, so it does not count in T's window.
	const sent = await send(mailbox.id, { at: T - 60_000 });
	expect(sent.status).toBe(202);
	return [`/api/messages/${item.id}/raw`, `/api/messages/${item.id}/attachments/0`, `/api/outbound/${sent.body.id}/raw`];
}

describe('downloads', () => {
	it("originals, attachments and composed replies count against the key's limit and the mailbox's (the admin's too)", async () => {
		const { boxes, tokens } = await desk(1, 2);
		const [paths, [first, second]] = [await downloads(boxes[0]!), tokens as [string, string]];
		for (const path of paths) expect((await api('GET', path, { token: first })).status, path).toBe(200);
		expectLimited(await api('GET', paths[0]!, { token: first }), 'downloads with this API key');
		expect((await api('GET', paths[1]!, { token: second })).status).toBe(200);
		// The mailbox's six: three of the first key, its refused fourth, the second key's and this one.
		expect((await api('GET', paths[2]!)).status).toBe(200);
		expectLimited(await api('GET', paths[2]!), "downloads of this mailbox's mail");
		expect((await api('GET', paths[0]!, { token: first, at: NEXT_WINDOW })).status).toBe(200);
	});

	it('requests arriving together are counted once each: exactly the limit gets through', async () => {
		const { boxes } = await desk(1, 0);
		const [raw] = await downloads(boxes[0]!);
		const answers = await Promise.all(Array.from({ length: 8 }, () => api('GET', raw!, { limits: 'download-mailbox=5' })));
		expect(answers.filter((answer) => answer.status === 200)).toHaveLength(5);
		expect(answers.filter((answer) => answer.status === 429)).toHaveLength(3);
	});
});

describe('configuration and upkeep', () => {
	it('RATE_LIMITS replaces known limits only, with whole numbers from 1; anything else is ignored, never no limit', () => {
		const overrides = parseRateLimitOverrides(' outbound-mailbox = 7, outbound-key=0, nope=5, download-key=abc, download-mailbox=99999999,, ');
		expect([...overrides]).toEqual([['outbound-mailbox', 7]]);
		expect(parseRateLimitOverrides(undefined).size).toBe(0);
		// The figures a deployment gets without it (the why is beside each in worker/api/rate-limit.ts).
		expect(Object.fromEntries(Object.values(RATE_LIMITS).map((limit) => [limit.name, limit.limit]))).toEqual({
			'outbound-mailbox': 60,
			'outbound-key': 120,
			'download-key': 300,
			'download-mailbox': 300
		});
	});

	it('the daily retention deletes counters idle for a day', async () => {
		const { boxes } = await desk(1, 0);
		expect((await send(boxes[0]!.id)).status).toBe(202);
		const bucket = `outbound-mailbox:${boxes[0]!.id}`;
		const count = () => env.DB.prepare('SELECT COUNT(*) AS n FROM rate_limits WHERE bucket = ?1').bind(bucket).first<{ n: number }>();
		expect((await count())!.n).toBe(1);
		await worker.scheduled(createScheduledController({ scheduledTime: T + 12 * 3600_000, cron: '17 3 * * *' }), env);
		expect((await count())!.n).toBe(1);
		await worker.scheduled(createScheduledController({ scheduledTime: T + 25 * 3600_000, cron: '17 3 * * *' }), env);
		expect((await count())!.n).toBe(0);
	});
});
