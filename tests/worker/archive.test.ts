/**
 * SPEC §5.6 size and originals: every logged delivery's raw bytes in MAIL_ARCHIVE, D1 rows kept
 * within the production limit of 1,000,000 bytes (asserted on the stored sizes, since local D1
 * would accept more), full content read back from the archive, the original downloadable byte
 * for byte, and retention removing row and object together.
 */
import crypto from 'node:crypto';
import { createScheduledController, env } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import worker from '../../worker/index';
import { MAX_STORED_HTML_BYTES } from '../../worker/mail/byte-budgets';
import { deliver } from './deliver';
import { ORIGIN, call, createIntegration, mailboxInput } from './helpers';

/** SPEC §5.6: D1's production limit for a row. */
const D1_ROW_LIMIT = 1_000_000;
let address: string;

beforeAll(async () => {
	const integration = await createIntegration();
	address = `archive-${crypto.randomBytes(3).toString('hex')}@desk.archive.test`;
	const created = await call('POST', '/api/mailboxes', { body: mailboxInput(integration.id, { address, manualForward: 'accept' }) });
	expect(created.status).toBe(201);
});

function big(options: { html?: number; attachmentBytes?: number }): Uint8Array {
	const id = `${crypto.randomUUID()}@sender.archive.test`;
	let out =
		`From: Newsletter <news@sender.archive.test>\r\nTo: ${address}\r\nSubject: Big one\r\nMessage-ID: <${id}>\r\n` +
		`Date: Tue, 24 Nov 2026 09:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="outer"\r\n\r\n` +
		`--outer\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body>${'<p>Große Neuigkeiten für alle Kunden – café ☕</p>\r\n'.repeat(Math.ceil((options.html ?? 1000) / 60))}</body></html>\r\n`;
	for (let i = 0; options.attachmentBytes && i < 4; i++) {
		// workerd's getRandomValues stops at 64 KiB; a byte pattern does as well for an attachment.
		const bytes = Buffer.alloc(Math.floor(options.attachmentBytes / 4));
		for (let b = 0; b < bytes.length; b++) bytes[b] = (b * 31 + i) % 251;
		const data = bytes.toString('base64').replace(/.{76}/g, '$&\r\n');
		out += `--outer\r\nContent-Type: application/octet-stream; name="part${i}.bin"\r\nContent-Disposition: attachment; filename="part${i}.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\n${data}\r\n`;
	}
	return new TextEncoder().encode(`${out}--outer--\r\n`);
}

async function storedBytes(id: string) {
	return env.DB.prepare(
		'SELECT length(CAST(text AS BLOB)) AS text, length(CAST(html AS BLOB)) AS html, length(CAST(headers AS BLOB)) AS headers, ' +
			'length(CAST(id || coalesce(mailbox_id, \'\') || coalesce(message_id, \'\') || envelope_from || envelope_to || coalesce(from_address, \'\') || coalesce(from_name, \'\') || coalesce(subject, \'\') || ' +
			"received_at || verdict || coalesce(reason, '') || spf || dkim || dmarc || arc || auth_details || forwarding || forwarding_evidence || charsets || encoding_findings || coalesce(headers, '') || coalesce(text, '') || coalesce(html, '') || attachments AS BLOB)) AS total, truncated FROM messages WHERE id = ?1"
	)
		.bind(id)
		.first<{ text: number | null; html: number | null; headers: number; total: number; truncated: number }>();
}

const sha256 = async (bytes: ArrayBuffer | Uint8Array) => Buffer.from(await crypto.subtle.digest('SHA-256', bytes)).toString('hex');

async function download(id: string) {
	const response = await fetch(`${ORIGIN}/api/messages/${id}/raw`);
	return response;
}

describe('the archive and D1 production limits', () => {
	it('keeps a 3 MB HTML body within the D1 row limit, serves it whole, and downloads the original byte for byte', async () => {
		const raw = big({ html: 3.2 * 1024 * 1024 });
		expect(raw.byteLength).toBeGreaterThan(3 * 1024 * 1024);
		const { rejected, item } = await deliver(raw, { from: 'news@sender.archive.test', to: address, hopIp: '192.0.2.80' });
		expect(rejected).toBeNull();
		expect(item.truncated).toBe(true);
		const sizes = await storedBytes(item.id);
		expect(sizes!.html).toBeLessThanOrEqual(MAX_STORED_HTML_BYTES);
		expect(sizes!.total).toBeLessThan(D1_ROW_LIMIT);

		const detail = await call('GET', `/api/messages/${item.id}`);
		// Whole again (postal-mime turns the body's CRLFs into LFs, hence not the raw size exactly).
		expect(new TextEncoder().encode(detail.body.html).byteLength).toBeGreaterThan(3 * 1024 * 1024);
		expect(detail.body.html.split('<p>').length - 1).toBe(Math.ceil((3.2 * 1024 * 1024) / 60));
		expect(detail.body.html.endsWith('</html>') || detail.body.html.trimEnd().endsWith('</html>')).toBe(true);

		const { SELF } = await import('cloudflare:test');
		const response = await SELF.fetch(`${ORIGIN}/api/messages/${item.id}/raw`, { headers: { authorization: 'Bearer test-admin-token-0123456789abcdef' } });
		expect(response.status).toBe(200);
		expect(response.headers.get('content-type')).toBe('message/rfc822');
		expect(response.headers.get('content-disposition')).toMatch(/^attachment; filename="[A-Za-z0-9._@+-]+\.eml"$/);
		const downloaded = new Uint8Array(await response.arrayBuffer());
		// The handler received Cloudflare's hop on top of the message; the archive holds exactly that.
		const hop = new TextEncoder().encode(`Received-SPF: none`);
		expect(Buffer.from(downloaded.subarray(0, hop.byteLength)).toString()).toBe('Received-SPF: none');
		expect(await sha256(downloaded.subarray(downloaded.byteLength - raw.byteLength))).toBe(await sha256(raw));
	}, 30_000);

	it('accepts a 20 MB message with attachments, stores the row within the limit and the original whole', async () => {
		const raw = big({ html: 2000, attachmentBytes: 14 * 1024 * 1024 });
		expect(raw.byteLength).toBeGreaterThan(18 * 1024 * 1024);
		const { rejected, item } = await deliver(raw, { from: 'news@sender.archive.test', to: address, hopIp: '192.0.2.80' });
		expect(rejected).toBeNull();
		const sizes = await storedBytes(item.id);
		expect(sizes!.total).toBeLessThan(D1_ROW_LIMIT);
		const detail = await call('GET', `/api/messages/${item.id}`);
		expect(detail.body.attachments).toHaveLength(4);
		const object = await env.MAIL_ARCHIVE.get(item.id);
		const archived = new Uint8Array(await object!.arrayBuffer());
		expect(await sha256(archived.subarray(archived.byteLength - raw.byteLength))).toBe(await sha256(raw));
	}, 60_000);

	it('fails the handler and leaves no row when the archive write fails', async () => {
		const raw = big({ html: 500 });
		const id = /Message-ID: <([^>]+)>/.exec(new TextDecoder().decode(raw))![1]!;
		const failingArchive = { put: async () => Promise.reject(new Error('R2 is unavailable')), delete: async () => {} };
		const email = { from: 'news@sender.archive.test', to: address, raw: new Response(raw).body!, rawSize: raw.byteLength, setReject() {} };
		await expect(
			worker.email(email as unknown as ForwardableEmailMessage, { ...env, MAIL_ARCHIVE: failingArchive } as unknown as Env)
		).rejects.toThrow(/R2 is unavailable/);
		const rows = await env.DB.prepare('SELECT COUNT(*) AS n FROM messages WHERE message_id = ?1').bind(id).first<{ n: number }>();
		expect(rows?.n).toBe(0);
	});

	it('archives refused deliveries too, and keeps one original per logged redelivery', async () => {
		const raw = big({ html: 500 });
		const first = await deliver(raw, { from: 'news@sender.archive.test', to: 'nobody@desk.archive.test', hopIp: '192.0.2.80' });
		expect(first.rejected).toMatch(/not a service address/);
		expect(await env.MAIL_ARCHIVE.head(first.item.id)).not.toBeNull();

		const again = big({ html: 600 });
		const a = await deliver(again, { from: 'news@sender.archive.test', to: address, hopIp: '192.0.2.80' });
		const before = (await env.MAIL_ARCHIVE.list()).objects.length;
		await deliver(again, { from: 'news@sender.archive.test', to: address, hopIp: '192.0.2.80' });
		expect((await env.MAIL_ARCHIVE.list()).objects.length).toBe(before);
		expect(await env.MAIL_ARCHIVE.head(a.item.id)).not.toBeNull();
	});

	it('purges old rows together with their originals, tolerating one already gone', async () => {
		const one = await deliver(big({ html: 300 }), { from: 'news@sender.archive.test', to: address, hopIp: '192.0.2.80' });
		const two = await deliver(big({ html: 300 }), { from: 'news@sender.archive.test', to: address, hopIp: '192.0.2.80' });
		const old = new Date(Date.now() - 40 * 24 * 3600 * 1000).toISOString();
		await env.DB.prepare('UPDATE messages SET received_at = ?1 WHERE id IN (?2, ?3)').bind(old, one.item.id, two.item.id).run();
		await env.MAIL_ARCHIVE.delete(two.item.id);
		await worker.scheduled(createScheduledController({ scheduledTime: Date.now(), cron: '17 3 * * *' }), env);
		expect(await env.MAIL_ARCHIVE.head(one.item.id)).toBeNull();
		const left = await env.DB.prepare('SELECT COUNT(*) AS n FROM messages WHERE id IN (?1, ?2)').bind(one.item.id, two.item.id).first<{ n: number }>();
		expect(left?.n).toBe(0);
	});

	it('authenticates /raw like every /api route and answers 404 for an unknown id', async () => {
		const some = await deliver(big({ html: 300 }), { from: 'news@sender.archive.test', to: address, hopIp: '192.0.2.80' });
		expect((await call('GET', `/api/messages/${some.item.id}/raw`, { token: null })).status).toBe(401);
		expect((await call('GET', '/api/messages/no-such-id/raw')).status).toBe(404);
	});
});
