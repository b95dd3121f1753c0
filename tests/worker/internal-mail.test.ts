/**
 * SPEC §16 "Internal mail is labelled and set apart", for the SMTP sending test: a real test
 * through the real API to a real smtp-server on loopback, the message that server received
 * handed to the real email() handler. It is known by its X-Mailgate-Test token only (sent to
 * that very address, while the token lasts), logged as `kind: "test"`, filterable with `kind=`,
 * left out of mailbox health, never handed to the help desk and never refused.
 */
import crypto from 'node:crypto';
import { env } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { listQuery } from '../../worker/db/messages';
import { handleInbound } from '../../worker/inbound/handle-email';
import { TOTAL_BUDGET_MS } from '../../worker/send/timeouts';
import { TEST_LATE_GRACE_MS } from '../../worker/send/test-token';
import { buildMessage } from './build-message';
import { cloudflareHop, deliver } from './deliver';
import { call, createIntegration, mailboxInput, unique } from './helpers';
import { servicesFrom } from '../../worker/services';

vi.setConfig({ testTimeout: 30_000 });

const ZONE = `i${crypto.randomBytes(4).toString('hex')}.test`;
const ports = JSON.parse(env.SMTP_TEST_PORTS) as Record<string, number>;
const USER = 'support@acme.test';
const PASSWORD = 'Corr3ct-h0rse-battery';
/** The message reaches email() through "Cloudflare's MX" from this address (the hop deliver() adds). */
const RELAY_IP = '192.0.2.88';
const TOKEN_LINE = /^X-Mailgate-Test: ([A-Za-z0-9_-]{43})\r?$/m;

let counter = 0;
/** A fresh domain under this file's zone on the loopback DoH server, with these TXT records. */
async function domainWith(records: Array<[name: string, data: string]>): Promise<string> {
	const domain = `d${++counter}.${ZONE}`;
	const full = records.map(([name, data]) => ({ name: name ? `${name}.${domain}` : domain, type: 'TXT', data: `"${data}"` }));
	full.push({ name: domain, type: 'A', data: '192.0.2.1' });
	const response = await fetch(`${env.DOH_TEST_ORIGIN}/zone`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ records: full }) });
	expect(response.ok).toBe(true);
	return domain;
}
/** No SPF, no DMARC: mail from anywhere is accepted. */
const openDomain = () => domainWith([]);
/** SPF that does not allow RELAY_IP and DMARC p=reject: mail through the relay fails DMARC and is refused. */
const strictDomain = () => domainWith([['', 'v=spf1 ip4:198.51.100.1 -all'], ['_dmarc', 'v=DMARC1; p=reject']]);

interface Desk {
	id: string;
	address: string;
	integrationId: string;
}

/** A mailbox on `domain` sending through the loopback `outbound` server, its integration's webhook set. */
async function desk(domain: string): Promise<Desk> {
	const integration = await createIntegration();
	const hook = await call('PATCH', `/api/integrations/${integration.id}`, { body: { webhook: { url: `${env.WEBHOOK_TEST_ORIGIN}/ok/${unique('internal')}` } } });
	expect(hook.status, hook.text).toBe(200);
	const answer = await call('POST', '/api/mailboxes', {
		body: mailboxInput(integration.id, {
			address: `${unique('support')}@${domain}`,
			smtp: { host: '127.0.0.1', port: ports.outbound, username: USER, password: PASSWORD, encryption: 'none' }
		})
	});
	expect(answer.status, answer.text).toBe(201);
	return { id: answer.body.id, address: answer.body.address, integrationId: integration.id };
}

interface Received {
	server: string;
	to: string[];
	data: string;
}

/** Runs the saved mailbox's SMTP test (to its default recipient unless `to`) and returns what the server received. */
async function smtpTest(mailbox: Desk, to?: string): Promise<{ result: { ok: boolean; to: string; at: string }; message: Received; token: string }> {
	const before = new Set((await received()).map((m) => m.data));
	const answer = await call('POST', `/api/mailboxes/${mailbox.id}/smtp-test`, { body: to ? { to } : {} });
	expect(answer.status, answer.text).toBe(200);
	expect(answer.body.ok, answer.text).toBe(true);
	const message = (await received()).find((m) => !before.has(m.data) && m.to.includes(to ?? mailbox.address));
	expect(message, 'the loopback server received the test message').toBeDefined();
	const token = TOKEN_LINE.exec(message!.data)?.[1];
	expect(token, message!.data.slice(0, 2000)).toBeDefined();
	return { result: answer.body, message: message!, token: token! };
}

async function received(): Promise<Received[]> {
	return (await fetch(`http://127.0.0.1:${ports.control}/received`)).json();
}

/** The same message under a new Message-ID (a redelivery of the same id would be stored once). */
const again = (data: string) => data.replace(/^Message-ID: <([^>]+)>/im, (_line, id: string) => `Message-ID: <again-${unique('x')}-${id}>`);

/** Hands `data` to email() as delivered to `to` at `at` (the clock injected, never waited for). */
async function inboundAt(data: string, to: string, at: Date) {
	const raw = new TextEncoder().encode(cloudflareHop(RELAY_IP) + data);
	let rejected: string | null = null;
	const logged = await handleInbound(
		{ from: to, to, raw: new Response(raw).body!, rawSize: raw.byteLength, setReject: (reason) => void (rejected = reason) },
		servicesFrom(env),
		{ now: () => at }
	);
	return { logged: logged!, rejected: rejected as string | null };
}

async function eventTypes(logId: string): Promise<string[]> {
	const { results } = await env.DB.prepare('SELECT type FROM webhook_events WHERE subject_id = ?1').bind(logId).all<{ type: string }>();
	return results.map((row) => row.type);
}

describe('the SMTP sending test’s message (SPEC §16)', () => {
	it('to the default recipient comes back as kind "test": filterable, not in health, not handed to the help desk', async () => {
		const mailbox = await desk(await openDomain());
		const { result, message, token } = await smtpTest(mailbox);
		expect(result.to).toBe(mailbox.address);
		expect(message.data).toMatch(/^Subject: Mailgate SMTP test\r?$/m);
		expect(message.data).toMatch(/^Auto-Submitted: auto-generated\r?$/m);
		// Only the token's hash is kept.
		const stored = await env.DB.prepare('SELECT * FROM smtp_test_tokens WHERE to_address = ?1').bind(mailbox.address.toLowerCase()).all();
		expect(stored.results).toHaveLength(1);
		expect(stored.results[0]!.token_hash).toMatch(/^[0-9a-f]{64}$/);
		expect(JSON.stringify(stored.results)).not.toContain(token);

		const test = await deliver(message.data, { from: mailbox.address, to: mailbox.address, hopIp: RELAY_IP });
		expect(test.rejected).toBeNull();
		expect(test.item).toMatchObject({ kind: 'test', verdict: 'accepted', mailboxId: mailbox.id, forwarding: 'none' });
		// A customer's message to the same mailbox, for contrast.
		const customer = await deliver(
			buildMessage({ from: `Ann <ann@${await openDomain()}>`, to: mailbox.address, subject: 'Where is my order?', messageId: `${unique('order')}@customer.example` }),
			{ from: 'ann@customer.example', to: mailbox.address, hopIp: RELAY_IP }
		);
		expect(customer.item).toMatchObject({ kind: 'message', verdict: 'accepted' });

		// Never handed to the help desk; the customer's message is.
		expect(await eventTypes(test.item.id)).toEqual([]);
		expect(await eventTypes(customer.item.id)).toEqual(['message.received']);

		// The log lists every kind by default; kind= picks one.
		const all = await call('GET', `/api/messages?mailboxId=${mailbox.id}`);
		expect(all.body.items.map((item: { id: string }) => item.id).sort()).toEqual([test.item.id, customer.item.id].sort());
		const tests = await call('GET', `/api/messages?mailboxId=${mailbox.id}&kind=test`);
		expect(tests.body.items.map((item: { id: string }) => item.id)).toEqual([test.item.id]);
		const messages = await call('GET', `/api/messages?mailboxId=${mailbox.id}&kind=message`);
		expect(messages.body.items.map((item: { id: string }) => item.id)).toEqual([customer.item.id]);
		const anywhere = await call('GET', `/api/messages?kind=test&messageId=${encodeURIComponent(test.id!)}`);
		expect(anywhere.body.items.map((item: { id: string }) => item.id)).toEqual([test.item.id]);

		// Health counts the customer's message only.
		const health = await call('GET', `/api/mailbox-health?mailboxId=${mailbox.id}`);
		expect(health.status).toBe(200);
		expect(health.body.items[0]).toMatchObject({ last24h: { accepted: 1, quarantined: 0, rejected: 0 }, last30d: { accepted: 1, quarantined: 0, rejected: 0 } });
	});

	it('is never refused: on a p=reject domain it is quarantined; after its token’s time the same message is ordinary mail, refused or handed on', async () => {
		const strict = await desk(await strictDomain());
		const { message: first, result } = await smtpTest(strict);
		const kept = await deliver(first.data, { from: strict.address, to: strict.address, hopIp: RELAY_IP });
		expect(kept.rejected).toBeNull();
		expect(kept.item).toMatchObject({ kind: 'test', verdict: 'quarantined', auth: { dmarc: 'fail' } });
		// Just before the token runs out it still counts (a server's late retry).
		const expiresAt = Date.parse(result.at) + TOTAL_BUDGET_MS + TEST_LATE_GRACE_MS;
		const late = await inboundAt(again(first.data), strict.address, new Date(expiresAt - 1_000));
		expect(late.rejected).toBeNull();
		expect(late.logged).toMatchObject({ kind: 'test', verdict: 'quarantined' });

		// A leaked header later makes nothing internal: DMARC refuses the mail like any other.
		const refused = await inboundAt(again(first.data), strict.address, new Date(expiresAt + 1_000));
		expect(refused.logged).toMatchObject({ kind: 'message', verdict: 'rejected', auth: { dmarc: 'fail' } });
		expect(refused.rejected).toMatch(/^5\d\d /);
		// Nor does health count the refusal of the test message, only the one of the ordinary mail.
		const health = await call('GET', `/api/mailbox-health?mailboxId=${strict.id}`);
		expect(health.body.items[0]).toMatchObject({ last30d: { accepted: 0, quarantined: 0, rejected: 1 } });

		// Accepted, an expired test message goes to the help desk as message.received like any mail.
		const open = await desk(await openDomain());
		const { message: second } = await smtpTest(open);
		const handed = await inboundAt(again(second.data), open.address, new Date(Date.now() + TOTAL_BUDGET_MS + TEST_LATE_GRACE_MS + 60_000));
		expect(handed.rejected).toBeNull();
		expect(handed.logged).toMatchObject({ kind: 'message', verdict: 'accepted' });
		expect(await eventTypes(handed.logged.id)).toEqual(['message.received']);
	});

	it('counts only for the address it was sent to, and a made-up token counts for nothing', async () => {
		const mailbox = await desk(await openDomain());
		// A test to a customer's address: its copy delivered to the service address is not the test's.
		const { message, token } = await smtpTest(mailbox, `${unique('someone')}@example.test`);
		const elsewhere = await deliver(again(message.data), { from: mailbox.address, to: mailbox.address, hopIp: RELAY_IP });
		expect(elsewhere.item).toMatchObject({ kind: 'message', verdict: 'accepted' });
		expect(await eventTypes(elsewhere.item.id)).toEqual(['message.received']);

		const madeUp = again(message.data).replace(token, crypto.randomBytes(32).toString('base64url'));
		const forged = await deliver(madeUp, { from: mailbox.address, to: mailbox.address, hopIp: RELAY_IP });
		expect(forged.item).toMatchObject({ kind: 'message' });
		const shapeless = await deliver(again(message.data).replace(token, `${token}!`), { from: mailbox.address, to: mailbox.address, hopIp: RELAY_IP });
		expect(shapeless.item).toMatchObject({ kind: 'message' });
	});
});

describe('GET /api/messages?kind=', () => {
	it('refuses a kind it does not know, naming the field', async () => {
		const answer = await call('GET', '/api/messages?kind=spam');
		expect(answer.status).toBe(422);
		expect(answer.body.error.fields.kind).toMatch(/message, test, probe or bounce/);
	});

	for (const [name, filters] of Object.entries({ kind: { kind: 'bounce' as const }, 'mailbox and kind': { mailboxId: 'm', kind: 'test' as const } })) {
		it(`is served by an index: ${name}`, async () => {
			const { sql, values } = listQuery({ ...filters, limit: 51 });
			const { results } = await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`).bind(...values).all<{ detail: string }>();
			const plan = results.map((row) => row.detail);
			expect(plan.some((step) => /^SEARCH messages USING INDEX messages_(mailbox_)?kind_received/.test(step)), plan.join('\n')).toBe(true);
			expect(plan.filter((step) => /^SCAN /.test(step)), plan.join('\n')).toEqual([]);
		});
	}
});
