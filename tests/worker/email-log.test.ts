/**
 * The email log's query API (SPEC §7) over rows written by the real email() handler: every
 * filter alone and combined, keyset pagination, mailbox health, the garbled-sender counts, and
 * SQLite's query plan for each list shape (each must be served by an index, not a table scan).
 */
import crypto from 'node:crypto';
import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { listQuery, type MessageFilters } from '../../worker/db/messages';
import { deliver } from './deliver';
import { call, createIntegration, mailboxInput } from './helpers';

const ZONE = `z${crypto.randomBytes(4).toString('hex')}.test`;
const PASS = `shop.${ZONE}`;
const REJECT = `spoofed.${ZONE}`;
const QUARANTINE = `quarantine.${ZONE}`;
const IP = '192.0.2.25';
/** Sends garbled mail to an address that is not a service address. */
const STRAY = `stray@${PASS}`;
const txt = (value: string) => `"${value}"`;

let main: { id: string; address: string };
let other: { id: string; address: string };
/** Message-IDs by kind, as delivered. */
const sent = { bulk: [] as string[], rejected: '', quarantined: '', unknown: '', garbled: [] as string[], otherMailbox: '' };
let unknownAddress: string;

async function mailbox() {
	const integration = await createIntegration();
	const address = `support-${crypto.randomBytes(3).toString('hex')}@helpdesk.${ZONE}`;
	const created = await call('POST', '/api/mailboxes', { body: mailboxInput(integration.id, { address }) });
	return { id: created.body.id as string, address };
}

function raw(options: { from: string; to: string; id: string; subject?: string; body?: Uint8Array | string; charset?: string }) {
	const head =
		`From: Customer <${options.from}>\r\nTo: ${options.to}\r\nSubject: ${options.subject ?? 'Order'}\r\nMessage-ID: <${options.id}>\r\n` +
		`Date: Tue, 24 Nov 2026 09:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=${options.charset ?? 'utf-8'}\r\n` +
		'Content-Transfer-Encoding: 8bit\r\n\r\n';
	const body = typeof options.body === 'string' || options.body === undefined ? new TextEncoder().encode(options.body ?? 'Hello\r\n') : options.body;
	const headBytes = new TextEncoder().encode(head);
	const bytes = new Uint8Array(headBytes.byteLength + body.byteLength);
	bytes.set(headBytes);
	bytes.set(body, headBytes.byteLength);
	return bytes;
}

async function send(from: string, to: string, options: { body?: Uint8Array | string; hopIp?: string } = {}) {
	const id = `${crypto.randomUUID()}@${from.split('@')[1]}`;
	const result = await deliver(raw({ from, to, id, body: options.body }), { from, to, hopIp: options.hopIp ?? IP });
	expect(result.item, `no log row for ${id}`).toBeDefined();
	return id;
}

async function list(query: string) {
	const answer = await call('GET', `/api/messages?${query}`);
	expect(answer.status, answer.text).toBe(200);
	return answer.body as { items: Array<{ id: string; messageId: string; verdict: string; mailboxId: string | null; receivedAt: string; from: { address: string } }>; nextCursor: string | null };
}

/** Latin-1 bytes declared as UTF-8: the decoder produces replacement characters (garbled). */
const LATIN1_AS_UTF8 = new Uint8Array([...new TextEncoder().encode('Caf'), 0xe9, ...new TextEncoder().encode(' na'), 0xef, ...new TextEncoder().encode('ve\r\n')]);

beforeAll(async () => {
	const response = await fetch(`${env.DOH_TEST_ORIGIN}/zone`, {
		method: 'POST',
		headers: { 'content-type': 'application/json' },
		body: JSON.stringify({
			records: [
				{ name: PASS, type: 'TXT', data: txt(`v=spf1 ip4:${IP} -all`) },
				{ name: `_dmarc.${PASS}`, type: 'TXT', data: txt('v=DMARC1; p=reject') },
				{ name: REJECT, type: 'TXT', data: txt('v=spf1 -all') },
				{ name: `_dmarc.${REJECT}`, type: 'TXT', data: txt('v=DMARC1; p=reject') },
				{ name: QUARANTINE, type: 'TXT', data: txt('v=spf1 -all') },
				{ name: `_dmarc.${QUARANTINE}`, type: 'TXT', data: txt('v=DMARC1; p=quarantine') }
			]
		})
	});
	expect(response.ok).toBe(true);
	main = await mailbox();
	other = await mailbox();
	unknownAddress = `nobody-${crypto.randomBytes(3).toString('hex')}@helpdesk.${ZONE}`;
	// 120 accepted messages from three senders, so paging crosses two page boundaries (50 a page).
	for (let i = 0; i < 120; i += 10) {
		const batch = Array.from({ length: 10 }, (_, j) => send(`customer${(i + j) % 3}@${PASS}`, main.address));
		sent.bulk.push(...(await Promise.all(batch)));
	}
	sent.rejected = await send(`mallory@${REJECT}`, main.address);
	sent.quarantined = await send(`bob@${QUARANTINE}`, main.address);
	sent.unknown = await send(`customer0@${PASS}`, unknownAddress);
	sent.garbled.push(await send(`legacy@${PASS}`, main.address, { body: LATIN1_AS_UTF8 }));
	sent.garbled.push(await send(`legacy@${PASS}`, main.address, { body: LATIN1_AS_UTF8 }));
	sent.garbled.push(await send(`gateway@${PASS}`, other.address, { body: LATIN1_AS_UTF8 }));
	sent.garbled.push(await send(STRAY, unknownAddress, { body: LATIN1_AS_UTF8 }));
	sent.otherMailbox = await send(`customer1@${PASS}`, other.address);
}, 120_000);

describe('GET /api/messages filters', () => {
	it('pages a mailbox newest first with a keyset cursor: 50, 50, then the rest, no repeats', async () => {
		const seen: string[] = [];
		const sizes: number[] = [];
		let cursor: string | null = null;
		do {
			const page = await list(`mailboxId=${main.id}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
			sizes.push(page.items.length);
			seen.push(...page.items.map((item) => item.id));
			for (let i = 1; i < page.items.length; i++) expect(page.items[i - 1]!.receivedAt >= page.items[i]!.receivedAt).toBe(true);
			cursor = page.nextCursor;
		} while (cursor);
		// 120 bulk + rejected + quarantined + 2 garbled.
		expect(sizes).toEqual([50, 50, 24]);
		expect(new Set(seen).size).toBe(124);
	});

	it('keeps the filter across pages', async () => {
		const first = await list(`mailboxId=${main.id}&from=${encodeURIComponent(`customer0@${PASS}`)}`);
		expect(first.items).toHaveLength(40);
		expect(first.nextCursor).toBeNull();
		// 120 bulk and 2 garbled messages come from the PASS domain.
		const senders: string[] = [];
		let cursor: string | null = null;
		do {
			const page = await list(`mailboxId=${main.id}&from=${PASS}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
			senders.push(...page.items.map((item) => item.from.address));
			cursor = page.nextCursor;
		} while (cursor);
		expect(senders).toHaveLength(122);
		expect(senders.every((address) => address.endsWith(`@${PASS}`))).toBe(true);
	});

	it('filters by verdict, and by mailbox "none" for recipients that are not service addresses', async () => {
		const rejected = await list(`mailboxId=${main.id}&verdict=rejected`);
		expect(rejected.items.map((item) => item.messageId)).toEqual([sent.rejected]);
		const quarantined = await list(`mailboxId=${main.id}&verdict=quarantined`);
		expect(quarantined.items.map((item) => item.messageId)).toEqual([sent.quarantined]);
		const unknown = await list(`mailboxId=none&from=${encodeURIComponent(`customer0@${PASS}`)}`);
		expect(unknown.items.map((item) => item.messageId)).toEqual([sent.unknown]);
		expect(unknown.items[0]).toMatchObject({ verdict: 'rejected', mailboxId: null });
	});

	it('matches a sender address case-insensitively, and a domain with or without @', async () => {
		const exact = await list(`from=${encodeURIComponent(`MALLORY@${REJECT.toUpperCase()}`)}`);
		expect(exact.items.map((item) => item.messageId)).toEqual([sent.rejected]);
		for (const domain of [QUARANTINE, `@${QUARANTINE}`, QUARANTINE.toUpperCase()]) {
			const byDomain = await list(`from=${encodeURIComponent(domain)}`);
			expect(byDomain.items.map((item) => item.messageId)).toEqual([sent.quarantined]);
		}
		// A domain is matched whole: the parent zone is not a match for its subdomains.
		expect((await list(`from=${ZONE}`)).items).toEqual([]);
	});

	it('finds a Message-ID pasted with or without angle brackets and surrounding spaces', async () => {
		for (const form of [sent.otherMailbox, `<${sent.otherMailbox}>`, `  <${sent.otherMailbox}> `]) {
			const found = await list(`messageId=${encodeURIComponent(form)}`);
			expect(found.items.map((item) => item.messageId)).toEqual([sent.otherMailbox]);
			expect(found.items[0]!.mailboxId).toBe(other.id);
		}
	});

	it('limits to a time window: since is inclusive, until exclusive', async () => {
		const all = await list(`mailboxId=${other.id}`);
		expect(all.items).toHaveLength(2);
		const [newer, older] = [all.items[0]!, all.items[1]!];
		const at = async (id: string, receivedAt: string) =>
			env.DB.prepare('UPDATE messages SET received_at = ?1 WHERE message_id = ?2').bind(receivedAt, id).run();
		await at(older.messageId, '2026-11-20T08:00:00.000Z');
		await at(newer.messageId, '2026-11-21T08:00:00.000Z');
		const window = (since: string, until: string) => list(`mailboxId=${other.id}&since=${encodeURIComponent(since)}&until=${encodeURIComponent(until)}`);
		expect((await window('2026-11-20T08:00:00Z', '2026-11-21T08:00:00Z')).items.map((i) => i.messageId)).toEqual([older.messageId]);
		// An offset is honoured: 09:00+01:00 is 08:00Z.
		expect((await window('2026-11-21T09:00:00+01:00', '2026-11-22T00:00:00Z')).items.map((i) => i.messageId)).toEqual([newer.messageId]);
		await at(older.messageId, older.receivedAt);
		await at(newer.messageId, newer.receivedAt);
	});

	it('answers field errors for bad filters and foreign cursors', async () => {
		const bad = await call('GET', '/api/messages?verdict=lost&since=last%20week&until=2026-13-01');
		expect(bad.status).toBe(422);
		expect(Object.keys(bad.body.error.fields).sort()).toEqual(['since', 'until', 'verdict']);
		const backwards = await call('GET', '/api/messages?since=2026-11-21T00:00:00Z&until=2026-11-20T00:00:00Z');
		expect(backwards.status).toBe(422);
		expect(backwards.body.error.fields).toEqual({ until: 'Choose a time after the start of the range' });
		for (const from of ['alice', 'alice@', 'a b@example.com']) {
			const sender = await call('GET', `/api/messages?from=${encodeURIComponent(from)}`);
			expect(sender.status, from).toBe(422);
			expect(sender.body.error.fields.from).toMatch(/address .* or a domain/);
		}
		const cursor = await call('GET', '/api/messages?cursor=not-ours');
		expect(cursor.status).toBe(422);
		expect(cursor.body.error.fields.cursor).toMatch(/cursor/);
	});
});

describe('every list shape is served by an index', () => {
	const shapes: Record<string, Omit<MessageFilters, 'limit'>> = {
		'no filter': {},
		mailbox: { mailboxId: 'm' },
		'not a service address': { mailboxId: null },
		verdict: { verdict: 'rejected' },
		'mailbox and verdict': { mailboxId: 'm', verdict: 'rejected' },
		'sender address': { from: 'a@b.example' },
		'sender domain': { from: 'b.example' },
		'sender and verdict': { from: 'a@b.example', verdict: 'quarantined' },
		'sender, mailbox and verdict': { from: 'b.example', mailboxId: 'm', verdict: 'quarantined' },
		'Message-ID in a mailbox': { messageId: 'x@y', mailboxId: 'm' },
		'Message-ID': { messageId: 'x@y' },
		'time window': { since: '2026-11-01T00:00:00.000Z', until: '2026-11-02T00:00:00.000Z' },
		'a later page': { mailboxId: 'm', after: { receivedAt: '2026-11-01T00:00:00.000Z', id: 'z' } }
	};
	for (const [name, filters] of Object.entries(shapes)) {
		it(name, async () => {
			const { sql, values } = listQuery({ ...filters, limit: 51 });
			const { results } = await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`).bind(...values).all<{ detail: string }>();
			const plan = results.map((row) => row.detail);
			// Unfiltered, the page order's index is walked and stops after a page; any filter must
			// SEARCH an index on it, never walk the whole table or the whole order index.
			const expected = name === 'no filter' ? /^SCAN messages USING INDEX messages_received$/ : /^SEARCH messages USING INDEX /;
			expect(plan.some((step) => expected.test(step)), plan.join('\n')).toBe(true);
			expect(plan.filter((step) => /^SCAN /.test(step) && name !== 'no filter'), plan.join('\n')).toEqual([]);
			// The most selective filter leads: a sender or Message-ID, never the verdict or mailbox.
			if (filters.from || filters.messageId) {
				expect(plan.filter((step) => /USING INDEX messages_(verdict|mailbox)/.test(step)), plan.join('\n')).toEqual([]);
			}
		});
	}
});

describe('GET /api/mailbox-health', () => {
	it('counts verdicts for 24 hours and 30 days and names the most common rejection', async () => {
		// Age two rows: one to three days ago (30 days only), one past retention (in neither).
		const age = (id: string, days: number) =>
			env.DB.prepare('UPDATE messages SET received_at = ?1 WHERE message_id = ?2')
				.bind(new Date(Date.now() - days * 86_400_000).toISOString(), id)
				.run();
		await age(sent.bulk[0]!, 3);
		await age(sent.bulk[1]!, 40);
		const answer = await call('GET', `/api/mailbox-health?mailboxId=${main.id}`);
		expect(answer.status, answer.text).toBe(200);
		expect(answer.body.items).toHaveLength(1);
		expect(answer.body.items[0]).toMatchObject({
			mailboxId: main.id,
			// 120 bulk + 2 garbled accepted; one aged 3 days, one 40 days.
			last24h: { accepted: 120, quarantined: 1, rejected: 1 },
			last30d: { accepted: 121, quarantined: 1, rejected: 1 },
			topRejection: { reason: `550 5.7.1 Unauthenticated email from ${REJECT} is not accepted due to domain's DMARC policy`, count: 1 }
		});
		const all = await call('GET', '/api/mailbox-health');
		const ids = all.body.items.map((item: { mailboxId: string | null }) => item.mailboxId);
		expect(ids).toEqual(expect.arrayContaining([main.id, other.id, null]));
		const refused = all.body.items.find((item: { mailboxId: string | null }) => item.mailboxId === null);
		expect(refused.topRejection.reason).toMatch(/not a service address/);
		expect(all.body.items.find((item: { mailboxId: string | null }) => item.mailboxId === other.id).topRejection).toBeNull();
		const none = await call('GET', '/api/mailbox-health?mailboxId=none');
		expect(none.body.items.map((item: { mailboxId: string | null }) => item.mailboxId)).toEqual([null]);
		expect(none.body.items[0].last24h.rejected).toBeGreaterThanOrEqual(1);
	});
});

describe('GET /api/messages/garbled-senders', () => {
	it('groups garbled mail by sender over 30 days, most first, with the charsets they declared', async () => {
		const mine = await call('GET', `/api/messages/garbled-senders?mailboxId=${main.id}`);
		expect(mine.status, mine.text).toBe(200);
		expect(mine.body.items).toEqual([{ sender: `legacy@${PASS}`, count: 2, lastReceivedAt: expect.any(String), charsets: ['utf-8'] }]);
		const all = await call('GET', '/api/messages/garbled-senders');
		const senders = all.body.items.map((item: { sender: string }) => item.sender);
		expect(senders).toEqual(expect.arrayContaining([`legacy@${PASS}`, `gateway@${PASS}`]));
		// `none`: only deliveries without a mailbox (other test files may add their own strays).
		const refused = await call('GET', '/api/messages/garbled-senders?mailboxId=none');
		const refusedSenders = refused.body.items.map((item: { sender: string }) => item.sender);
		expect(refusedSenders).toContain(STRAY);
		expect(refusedSenders).not.toContain(`legacy@${PASS}`);
		const bad = await call('GET', `/api/messages/garbled-senders?mailboxId=${'x'.repeat(101)}`);
		expect(bad.status).toBe(422);
	});
});
