/**
 * Attachment downloads (SPEC §11) without parsing the whole original each time: at delivery
 * the attachments' bytes are kept apart (`parts/<log id>` in MAIL_ARCHIVE), a download reads
 * its part byte for byte with the download headers, a message stored before (no parts, or parts
 * that do not match the row) still downloads from its original, refused mail keeps no parts,
 * and retention deletes the parts with the message. Through the real email() and fetch().
 */
import crypto from 'node:crypto';
import { SELF, createScheduledController, env } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import worker from '../../worker/index';
import { deliver } from './deliver';
import { ORIGIN, TOKEN, call, createIntegration, mailboxInput } from './helpers';

const SENDER = 'orders@sender.attachments.test';
let address: string;

beforeAll(async () => {
	const integration = await createIntegration();
	address = `files-${crypto.randomBytes(3).toString('hex')}@desk.attachments.test`;
	const created = await call('POST', '/api/mailboxes', { body: mailboxInput(integration.id, { address }) });
	expect(created.status).toBe(201);
});

interface Part {
	filename: string;
	contentType: string;
	bytes: Uint8Array;
}

/** Three parts: binary (every byte value), a UTF-8 text with a non-ASCII name, and a small PDF-ish one. */
function parts(): Part[] {
	const binary = new Uint8Array(200_000);
	for (let i = 0; i < binary.length; i++) binary[i] = (i * 37 + 11) % 256;
	return [
		{ filename: 'data.bin', contentType: 'application/octet-stream', bytes: binary },
		{ filename: 'Rechnung März.txt', contentType: 'text/plain', bytes: new TextEncoder().encode('Grüße aus Köln\r\nZeile zwei ☕\r\n') },
		{ filename: 'receipt.pdf', contentType: 'application/pdf', bytes: new TextEncoder().encode(`%PDF-1.4 ${crypto.randomUUID()}`) }
	];
}

function withAttachments(list: Part[], to = address): string {
	let out =
		`From: Orders <${SENDER}>\r\nTo: ${to}\r\nSubject: Files\r\nMessage-ID: <${crypto.randomUUID()}@sender.attachments.test>\r\n` +
		`Date: Tue, 24 Nov 2026 09:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\n` +
		`--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe files you asked for.\r\n`;
	for (const part of list) {
		const name = `=?UTF-8?B?${Buffer.from(part.filename).toString('base64')}?=`;
		const data = Buffer.from(part.bytes).toString('base64').replace(/.{76}/g, '$&\r\n');
		out += `--b1\r\nContent-Type: ${part.contentType}; name="${name}"\r\nContent-Disposition: attachment; filename="${name}"\r\nContent-Transfer-Encoding: base64\r\n\r\n${data}\r\n`;
	}
	return `${out}--b1--\r\n`;
}

async function download(id: string, index: number) {
	const response = await SELF.fetch(`${ORIGIN}/api/messages/${id}/attachments/${index}`, { headers: { authorization: `Bearer ${TOKEN}` } });
	return { response, bytes: new Uint8Array(await response.arrayBuffer()) };
}

/** Every part downloads byte for byte, with its type and the headers no browser renders past. */
async function expectDownloads(id: string, list: Part[]) {
	for (const [index, part] of list.entries()) {
		const { response, bytes } = await download(id, index);
		expect(response.status, `part ${index}`).toBe(200);
		expect(Buffer.from(bytes).equals(Buffer.from(part.bytes)), `part ${index} bytes`).toBe(true);
		expect(response.headers.get('content-type')).toBe(part.contentType);
		expect(response.headers.get('content-length')).toBe(String(part.bytes.byteLength));
		expect(response.headers.get('content-disposition')).toBe(
			`attachment; filename="${part.filename.replace(/[^A-Za-z0-9._@+-]/g, '_')}"; filename*=UTF-8''${encodeURIComponent(part.filename)}`
		);
		expect(response.headers.get('x-content-type-options')).toBe('nosniff');
		expect(response.headers.get('content-security-policy')).toBe("default-src 'none'; sandbox");
	}
}

const partsKey = (id: string) => `parts/${id}`;
const total = (list: Part[]) => list.reduce((sum, part) => sum + part.bytes.byteLength, 0);

describe('attachment downloads', () => {
	it('are served from the parts kept apart at delivery, byte for byte, even with the original gone', async () => {
		const list = parts();
		const { rejected, item } = await deliver(withAttachments(list), { from: SENDER, to: address, hopIp: '192.0.2.81' });
		expect(rejected).toBeNull();
		expect(item.verdict).toBe('accepted');
		const stored = await env.MAIL_ARCHIVE.head(partsKey(item.id));
		expect(stored?.size).toBe(total(list));
		await expectDownloads(item.id, list);

		// Proof that no download parses the original: without it, every part still comes back whole.
		await env.MAIL_ARCHIVE.delete(item.id);
		await expectDownloads(item.id, list);
		expect((await download(item.id, list.length)).response.status).toBe(404);
	});

	it('of a message stored before parts were kept (or with parts that do not match its row) come from the original', async () => {
		const list = parts();
		const { item } = await deliver(withAttachments(list), { from: SENDER, to: address, hopIp: '192.0.2.81' });
		await env.MAIL_ARCHIVE.delete(partsKey(item.id));
		await expectDownloads(item.id, list);
		// A parts object of another size is not trusted to hold these parts.
		await env.MAIL_ARCHIVE.put(partsKey(item.id), new Uint8Array(total(list) - 1));
		await expectDownloads(item.id, list);
	});

	it('refused mail keeps no parts, and a redelivery leaves no second copy of them', async () => {
		const refused = await deliver(withAttachments(parts(), 'nobody@desk.attachments.test'), { from: SENDER, to: 'nobody@desk.attachments.test', hopIp: '192.0.2.81' });
		expect(refused.rejected).toMatch(/not a service address/);
		expect(await env.MAIL_ARCHIVE.head(partsKey(refused.item.id))).toBeNull();

		const raw = withAttachments(parts());
		const first = await deliver(raw, { from: SENDER, to: address, hopIp: '192.0.2.81' });
		const count = async () => (await env.MAIL_ARCHIVE.list({ prefix: 'parts/' })).objects.length;
		const before = await count();
		await deliver(raw, { from: SENDER, to: address, hopIp: '192.0.2.81' });
		expect(await count()).toBe(before);
		expect(await env.MAIL_ARCHIVE.head(partsKey(first.item.id))).not.toBeNull();
	});

	it('retention deletes the parts with their message', async () => {
		const { item } = await deliver(withAttachments(parts()), { from: SENDER, to: address, hopIp: '192.0.2.81' });
		expect(await env.MAIL_ARCHIVE.head(partsKey(item.id))).not.toBeNull();
		const old = new Date(Date.now() - 40 * 24 * 3600 * 1000).toISOString();
		await env.DB.prepare('UPDATE messages SET received_at = ?1 WHERE id = ?2').bind(old, item.id).run();
		await worker.scheduled(createScheduledController({ scheduledTime: Date.now(), cron: '17 3 * * *' }), env);
		expect(await env.DB.prepare('SELECT id FROM messages WHERE id = ?1').bind(item.id).first()).toBeNull();
		expect(await env.MAIL_ARCHIVE.head(item.id)).toBeNull();
		expect(await env.MAIL_ARCHIVE.head(partsKey(item.id))).toBeNull();
	});
});
