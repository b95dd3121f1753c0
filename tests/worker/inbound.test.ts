/**
 * The inbound path through the real email() handler inside workerd, with DNS from the loopback
 * DoH server (tests/worker/doh-server.ts) and DKIM keys generated here: recipient check,
 * SPF/DKIM/DMARC with the client IP from Cloudflare's hop, the DMARC policy, forwarding policy,
 * storage once per Message-ID, the email-log API and retention.
 */
import crypto from 'node:crypto';
import { createScheduledController, env } from 'cloudflare:test';
import { dkimSign } from 'mailauth';
import { beforeAll, describe, expect, it } from 'vitest';
import worker from '../../worker/index';
import { cloudflareHop, deliver as deliverEmail } from './deliver';
import { call, createIntegration, mailboxInput } from './helpers';

const ZONE = `z${crypto.randomBytes(4).toString('hex')}.test`;
const SENDER_DOMAIN = `shop.${ZONE}`;
const PERMITTED_IP = '192.0.2.25';
let serviceAddress: string;
let mailboxId: string;
let rsaKey: string;

async function addRecords(records: Array<{ name: string; type: string; data: string }>) {
	const response = await fetch(`${env.DOH_TEST_ORIGIN}/zone`, {
		method: 'POST',
		headers: { 'content-type': 'application/json' },
		body: JSON.stringify({ records })
	});
	expect(response.ok).toBe(true);
}

const txt = (value: string) => `"${value}"`;

beforeAll(async () => {
	const integration = await createIntegration();
	serviceAddress = `support-${crypto.randomBytes(3).toString('hex')}@helpdesk.${ZONE}`;
	const created = await call('POST', '/api/mailboxes', { body: mailboxInput(integration.id, { address: serviceAddress }) });
	mailboxId = created.body.id;
	const pair = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
	rsaKey = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
	const publicKey = (pair.publicKey.export({ type: 'spki', format: 'der' }) as Buffer).toString('base64');
	await addRecords([
		{ name: SENDER_DOMAIN, type: 'TXT', data: txt(`v=spf1 ip4:${PERMITTED_IP} -all`) },
		{ name: `_dmarc.${SENDER_DOMAIN}`, type: 'TXT', data: txt('v=DMARC1; p=reject') },
		{ name: `s1._domainkey.${SENDER_DOMAIN}`, type: 'TXT', data: txt(`v=DKIM1; k=rsa; p=${publicKey}`) },
		{ name: `quarantine.${ZONE}`, type: 'TXT', data: txt(`v=spf1 ip4:${PERMITTED_IP} -all`) },
		{ name: `_dmarc.quarantine.${ZONE}`, type: 'TXT', data: txt('v=DMARC1; p=quarantine') },
		{ name: `relaxed.${ZONE}`, type: 'TXT', data: txt(`v=spf1 ip4:${PERMITTED_IP} -all`) },
		{ name: `_dmarc.relaxed.${ZONE}`, type: 'TXT', data: txt('v=DMARC1; p=none') }
	]);
});

function message(options: { from: string; to?: string; subject?: string; body?: string; id?: string; extra?: string }) {
	const id = options.id ?? `${crypto.randomUUID()}@${options.from.split('@')[1]}`;
	return (
		(options.extra ?? '') +
		`From: Customer <${options.from}>\r\nTo: ${options.to ?? serviceAddress}\r\nSubject: ${options.subject ?? 'My order'}\r\n` +
		`Message-ID: <${id}>\r\nDate: Tue, 24 Nov 2026 09:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n` +
		`${options.body ?? 'Hello, where is my order?'}\r\n`
	);
}

async function signed(raw: string) {
	const result = await dkimSign(raw, { signatureData: [{ signingDomain: SENDER_DOMAIN, selector: 's1', privateKey: rsaKey }] } as never);
	return result.signatures + raw;
}

function deliver(raw: string, options: { from: string; to?: string; hopIp?: string }) {
	return deliverEmail(raw, { from: options.from, to: options.to ?? serviceAddress, hopIp: options.hopIp ?? PERMITTED_IP });
}

describe('inbound mail (SPEC §5)', () => {
	it('accepts a DKIM-signed (RSA) message whose SPF passes from Cloudflare’s hop', async () => {
		const { rejected, item } = await deliver(await signed(message({ from: `alice@${SENDER_DOMAIN}` })), { from: `alice@${SENDER_DOMAIN}` });
		expect(rejected).toBeNull();
		expect(item).toMatchObject({ verdict: 'accepted', mailboxId, auth: { spf: 'pass', dkim: 'pass', dmarc: 'pass' }, forwarding: 'none' });
		const detail = await call('GET', `/api/messages/${item.id}`);
		expect(detail.body.headers).toMatch(/^Received-SPF: none/);
		expect(detail.body.headers).toContain('DKIM-Signature:');
		expect(detail.body.text).toContain('where is my order');
		expect(detail.body.authDetails.spf.clientIp).toBe(PERMITTED_IP);
		expect(detail.body.authDetails.dkim[0]).toMatchObject({ domain: SENDER_DOMAIN, selector: 's1', result: 'pass' });
	});

	it('rejects a DMARC failure under p=reject with the SPEC’s reason, and logs it', async () => {
		const { rejected, item } = await deliver(message({ from: `mallory@${SENDER_DOMAIN}` }), { from: `mallory@${SENDER_DOMAIN}`, hopIp: '203.0.113.9' });
		expect(rejected).toBe(`550 5.7.1 Unauthenticated email from ${SENDER_DOMAIN} is not accepted due to domain's DMARC policy`);
		expect(item).toMatchObject({ verdict: 'rejected', auth: { spf: 'fail', dmarc: 'fail' } });
	});

	it('takes the client IP from Cloudflare’s hop, not from trace headers deeper in the message', async () => {
		const forged = `Received: from trusted (trusted [${PERMITTED_IP}]) by mx.cloudflare.net; Tue, 24 Nov 2026 08:00:00 +0000\r\nReceived-SPF: pass (mx.cloudflare.net) client-ip=${PERMITTED_IP};\r\n`;
		const raw = message({ from: `mallory@${SENDER_DOMAIN}`, extra: `Received: from evil (evil [203.0.113.9]) by relay.evil.test; Tue, 24 Nov 2026 08:30:00 +0000\r\n${forged}` });
		const { rejected, item } = await deliver(raw, { from: `mallory@${SENDER_DOMAIN}`, hopIp: '203.0.113.9' });
		expect(rejected).not.toBeNull();
		const detail = await call('GET', `/api/messages/${item.id}`);
		expect(detail.body.authDetails.spf.clientIp).toBe('203.0.113.9');
	});

	it('quarantines a DMARC failure under p=quarantine and records one under p=none', async () => {
		const q = await deliver(message({ from: `bob@quarantine.${ZONE}` }), { from: `bob@quarantine.${ZONE}`, hopIp: '203.0.113.9' });
		expect(q.rejected).toBeNull();
		expect(q.item).toMatchObject({ verdict: 'quarantined', auth: { dmarc: 'fail' } });
		const n = await deliver(message({ from: `carol@relaxed.${ZONE}` }), { from: `carol@relaxed.${ZONE}`, hopIp: '203.0.113.9' });
		expect(n.rejected).toBeNull();
		expect(n.item).toMatchObject({ verdict: 'accepted', auth: { dmarc: 'fail' } });
		expect(n.item.reason).toMatch(/policy is none/);
	});

	it('never turns a DNS failure into a pass', async () => {
		const from = `dave@servfail.${ZONE}`;
		const { rejected, item } = await deliver(message({ from }), { from });
		expect(rejected).toBeNull();
		expect(item.auth.spf).toBe('temperror');
		expect(item.auth.dmarc).not.toBe('pass');
	});

	it('refuses unknown recipients and aliases with a clear reason', async () => {
		const unknown = await deliver(message({ from: `alice@${SENDER_DOMAIN}`, to: `nobody@helpdesk.${ZONE}` }), { from: `alice@${SENDER_DOMAIN}`, to: `nobody@helpdesk.${ZONE}` });
		expect(unknown.rejected).toMatch(/not a service address/);
		expect(unknown.item).toMatchObject({ verdict: 'rejected', mailboxId: null });
		const alias = serviceAddress.replace('@', '+eu@');
		const aliased = await deliver(message({ from: `alice@${SENDER_DOMAIN}`, to: alias }), { from: `alice@${SENDER_DOMAIN}`, to: alias });
		expect(aliased.rejected).toMatch(/aliases/);
	});

	it('matches the service address case-insensitively', async () => {
		const to = serviceAddress.toUpperCase();
		const { rejected, item } = await deliver(await signed(message({ from: `alice@${SENDER_DOMAIN}`, to })), { from: `alice@${SENDER_DOMAIN}`, to });
		expect(rejected).toBeNull();
		expect(item.mailboxId).toBe(mailboxId);
	});

	it('rejects a manual forward by default, pointing at native forwarding', async () => {
		const body = 'FYI\r\n\r\n---------- Forwarded message ---------\r\nFrom: Someone <someone@example.org>\r\nDate: Mon, 23 Nov 2026\r\nSubject: Broken\r\nTo: agent@example.org\r\n\r\nIt is broken.';
		const raw = await signed(message({ from: `alice@${SENDER_DOMAIN}`, subject: 'Fwd: Broken', body }));
		const { rejected, item } = await deliver(raw, { from: `alice@${SENDER_DOMAIN}` });
		expect(rejected).toMatch(/forward/i);
		expect(item).toMatchObject({ verdict: 'rejected', forwarding: 'manual' });
	});

	it('stores a redelivery of the same Message-ID once', async () => {
		const raw = await signed(message({ from: `alice@${SENDER_DOMAIN}`, id: `same-${crypto.randomUUID()}@${SENDER_DOMAIN}` }));
		const first = await deliver(raw, { from: `alice@${SENDER_DOMAIN}` });
		await deliver(raw, { from: `alice@${SENDER_DOMAIN}` });
		const all = await call('GET', `/api/messages?messageId=${encodeURIComponent(first.id!)}`);
		expect(all.body.items).toHaveLength(1);
	});

	it('fails the handler when the log cannot be written, so the message is not lost silently', async () => {
		const brokenDb = new Proxy(env.DB, {
			get(target, property) {
				if (property === 'prepare') {
					return (sql: string) => {
						if (/INSERT/i.test(sql)) throw new Error('D1 is unavailable');
						return target.prepare(sql);
					};
				}
				const value = Reflect.get(target, property);
				return typeof value === 'function' ? value.bind(target) : value;
			}
		});
		const raw = cloudflareHop(PERMITTED_IP) + (await signed(message({ from: `alice@${SENDER_DOMAIN}` })));
		const bytes = new TextEncoder().encode(raw);
		const email = { from: `alice@${SENDER_DOMAIN}`, to: serviceAddress, raw: new Response(bytes).body!, rawSize: bytes.byteLength, headers: new Headers(), setReject: () => {} };
		await expect(worker.email(email as unknown as ForwardableEmailMessage, { ...env, DB: brokenDb } as Env)).rejects.toThrow(/D1 is unavailable/);
	});

	it('sanitises stored HTML', async () => {
		const html = '<p onclick="steal()">Hi</p><script>steal()</script><a href="javascript:steal()">x</a><img src="https://tracker.example/p.gif">';
		const raw =
			`From: Customer <alice@${SENDER_DOMAIN}>\r\nTo: ${serviceAddress}\r\nSubject: html\r\nMessage-ID: <html-${crypto.randomUUID()}@${SENDER_DOMAIN}>\r\n` +
			`Date: Tue, 24 Nov 2026 09:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n${html}\r\n`;
		const { item } = await deliver(await signed(raw), { from: `alice@${SENDER_DOMAIN}` });
		const detail = await call('GET', `/api/messages/${item.id}`);
		expect(detail.body.html).toContain('<p>Hi</p>');
		expect(detail.body.html).not.toMatch(/script|onclick|javascript:/i);
	});
});

describe('email log API and retention', () => {
	it('filters by verdict and Message-ID (with or without brackets) and pages with a cursor', async () => {
		const rejected = await call('GET', `/api/messages?verdict=rejected&mailboxId=${mailboxId}`);
		expect(rejected.body.items.length).toBeGreaterThan(0);
		expect(rejected.body.items.every((m: { verdict: string }) => m.verdict === 'rejected')).toBe(true);
		const bad = await call('GET', '/api/messages?verdict=maybe&since=yesterday');
		expect(bad.status).toBe(422);
		expect(Object.keys(bad.body.error.fields).sort()).toEqual(['since', 'verdict']);
		const ids = new Set<string>();
		let cursor: string | null = null;
		let pages = 0;
		do {
			const page: { body: { items: Array<{ id: string }>; nextCursor: string | null } } = await call('GET', `/api/messages${cursor ? `?cursor=${encodeURIComponent(cursor)}` : ''}`);
			for (const item of page.body.items) {
				expect(ids.has(item.id)).toBe(false);
				ids.add(item.id);
			}
			cursor = page.body.nextCursor;
			pages += 1;
		} while (cursor && pages < 10);
		const count = await env.DB.prepare('SELECT COUNT(*) AS n FROM messages').first<{ n: number }>();
		expect(ids.size).toBe(count?.n);
	});

	it('purges log rows older than 30 days on schedule', async () => {
		const old = new Date(Date.now() - 31 * 24 * 3600 * 1000).toISOString();
		await env.DB.prepare("UPDATE messages SET received_at = ?1 WHERE id IN (SELECT id FROM messages LIMIT 2)").bind(old).run();
		const before = await env.DB.prepare('SELECT COUNT(*) AS n FROM messages WHERE received_at < ?1').bind(old.slice(0, 10) + 'T23:59:59Z').first<{ n: number }>();
		expect(before?.n).toBe(2);
		await worker.scheduled(createScheduledController({ scheduledTime: Date.now(), cron: '17 3 * * *' }), env);
		const after = await env.DB.prepare('SELECT COUNT(*) AS n FROM messages WHERE received_at < ?1').bind(old.slice(0, 10) + 'T23:59:59Z').first<{ n: number }>();
		expect(after?.n).toBe(0);
	});
});
