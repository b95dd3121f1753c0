/**
 * Accepting a reply in one write (issue 22): the row, its composed message (up to 128 KiB) and its
 * rate limits in one D1 batch, a larger message's bytes in R2 beside it, with the mailbox this
 * isolate remembers. Through the real router, D1 and R2; the queue is a recording stand-in, so
 * nothing is sent. What must hold: a renamed or deleted mailbox is never replied from as it was,
 * a failed write leaves neither a row nor bytes, and the queue hears of a reply only once both
 * are stored.
 */
import { env } from 'cloudflare:test';
import PostalMime from 'postal-mime';
import { describe, expect, it } from 'vitest';
import { handleApi } from '../../worker/api/router';
import { composedKey } from '../../worker/archive/keys';
import { composeMessage, encodedText, type TextEncoding } from '../../worker/mail/compose';
import { INLINE_COMPOSED_BYTES, rowCopy, wholeComposed } from '../../worker/outbound/composed';
import { servicesFrom, type Services } from '../../worker/services';
import { ORIGIN, TOKEN, call, composedInRow, createMailbox, rowCopyOf } from './helpers';

/** The ids sent to the replies queue. */
function recordingQueue(): { sent: string[]; queue: Queue } {
	const sent: string[] = [];
	const queue = {
		async sendBatch(messages: Array<{ body: { id: string } }>) {
			sent.push(...messages.map((message) => message.body.id));
		}
	};
	return { sent, queue: queue as unknown as Queue };
}

async function post(mailboxId: string, services: Services, body: Record<string, unknown> = { to: ['customer@example.org'], subject: 'Your order', text: 'On its way.' }) {
	const request = new Request(`${ORIGIN}/api/mailboxes/${mailboxId}/outbound`, {
		method: 'POST',
		headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
		body: JSON.stringify(body)
	});
	const response = await handleApi(request, services);
	return { status: response.status, body: (await response.json()) as any };
}

const rows = async (mailboxId: string) =>
	(await env.DB.prepare('SELECT id FROM outbound WHERE mailbox_id = ?1').bind(mailboxId).all<{ id: string }>()).results.map((row) => row.id);
const composedObjects = async () => (await env.MAIL_ARCHIVE.list({ prefix: composedKey('') })).objects.length;
/** A reply whose composed message is over INLINE_COMPOSED_BYTES: its bytes go to R2 at once. */
const large = { to: ['customer@example.org'], subject: 'Your invoice', text: 'Line of the invoice.\r\n'.repeat(Math.ceil((INLINE_COMPOSED_BYTES + 1024) / 22)) };
/** An R2 bucket that refuses every write (an outage); reads and deletes reach the real one. */
const refusingWrites = () =>
	new Proxy(env.MAIL_ARCHIVE, {
		get: (target, name) => (name === 'put' ? async () => Promise.reject(new Error('R2 is unavailable')) : Reflect.get(target, name).bind(target))
	}) as R2Bucket;

describe('POST /api/mailboxes/:id/outbound in one write', () => {
	it('replies from a renamed mailbox under its new name, and answers 404 once it is gone, though this isolate saw it before', async () => {
		const { sent, queue } = recordingQueue();
		const services = { ...servicesFrom(env), queues: { ...servicesFrom(env).queues, replies: queue } };
		const mailbox = await createMailbox({ name: 'Acme Support' });
		const first = await post(mailbox.id, services);
		expect(first.status).toBe(202);
		expect(first.body.from).toEqual({ name: 'Acme Support', address: mailbox.address });

		const renamed = await call('PATCH', `/api/mailboxes/${mailbox.id}`, { body: { version: mailbox.version, name: 'Acme Help' } });
		expect(renamed.status, renamed.text).toBe(200);
		const objects = await composedObjects();
		const second = await post(mailbox.id, services);
		expect(second.status).toBe(202);
		expect(second.body.from.name).toBe('Acme Help');
		const stored = await composedInRow(second.body.id);
		expect((await PostalMime.parse(stored!)).from).toMatchObject({ name: 'Acme Help', address: mailbox.address });
		// The attempt composed under the old name left nothing behind: no row, no bytes.
		expect((await rows(mailbox.id)).sort()).toEqual([first.body.id, second.body.id].sort());
		expect(await composedObjects()).toBe(objects);
		expect(sent).toEqual([first.body.id, second.body.id]);

		expect((await call('DELETE', `/api/mailboxes/${mailbox.id}`)).status).toBe(204);
		expect((await post(mailbox.id, services)).status).toBe(404);
		expect(await composedObjects()).toBe(objects);
		expect(sent).toHaveLength(2);
	});

	it('keeps a message up to 128 KiB in its row, written once: R2 is not written; the raw message reads from the row', async () => {
		const { sent, queue } = recordingQueue();
		const mailbox = await createMailbox();
		const base = servicesFrom(env);
		const objects = await composedObjects();
		const text = `${'Tracking follows. '.repeat(5_000)}The end.`;
		const answer = await post(mailbox.id, { ...base, archive: refusingWrites(), queues: { ...base.queues, replies: queue } }, { to: ['customer@example.org'], subject: 'Kept in its row', text });
		expect(answer.status).toBe(202);
		expect(sent).toEqual([answer.body.id]);
		expect(await composedObjects()).toBe(objects);
		const kept = await composedInRow(answer.body.id);
		expect(kept).toContain(`Message-ID: <${answer.body.messageId}>`);
		expect(new TextEncoder().encode(kept!).byteLength).toBeLessThanOrEqual(INLINE_COMPOSED_BYTES);
		// Migration 0019: the row's copy leaves out the text part's body, which its text column holds.
		const copy = (await rowCopyOf(answer.body.id))!;
		expect(copy.text).toBe(text);
		expect(copy.composed).not.toContain('Tracking follows.');
		// One line of 90 KB, so quoted-printable (RFC 5322 §2.1.1: no line over 998 characters as it is).
		expect(copy.composed).toContain('Content-Transfer-Encoding: quoted-printable\r\n\r\n');
		expect(copy.composed.length).toBe(kept!.length - encodedText(text, 'quoted-printable').length);

		const raw = await call('GET', `/api/outbound/${answer.body.id}/raw`);
		expect(raw.status).toBe(200);
		expect(raw.text).toBe(kept);
		expect(raw.headers.get('content-length')).toBe(String(new TextEncoder().encode(kept!).byteLength));
		expect((await PostalMime.parse(raw.text)).text?.trimEnd()).toBe(text);
	});

	it('keeps neither a row nor bytes when the archive write of a larger message fails, and tells the queue nothing', async () => {
		const { sent, queue } = recordingQueue();
		const mailbox = await createMailbox();
		const base = servicesFrom(env);
		const answer = await post(mailbox.id, { ...base, archive: refusingWrites(), queues: { ...base.queues, replies: queue } }, large);
		expect(answer.status).toBe(500);
		expect(await rows(mailbox.id)).toEqual([]);
		expect(sent).toEqual([]);
	});

	it('keeps no bytes when the row cannot be written', async () => {
		const { sent, queue } = recordingQueue();
		const mailbox = await createMailbox();
		const base = servicesFrom(env);
		const objects = await composedObjects();
		// A D1 that fails every batch (an outage): the bytes of a larger message, written beside the row, are taken back.
		const db = new Proxy(env.DB, {
			get: (target, name) => (name === 'batch' ? async () => Promise.reject(new Error('D1 is unavailable')) : Reflect.get(target, name).bind(target))
		});
		for (const body of [large, undefined]) {
			const answer = await post(mailbox.id, { ...base, db, queues: { ...base.queues, replies: queue } }, body);
			expect(answer.status).toBe(500);
		}
		expect(await composedObjects()).toBe(objects);
		expect(await rows(mailbox.id)).toEqual([]);
		expect(sent).toEqual([]);

		// With D1 back, the larger message's bytes are in R2 and not in its row.
		const answer = await post(mailbox.id, { ...base, queues: { ...base.queues, replies: queue } }, large);
		expect(answer.status).toBe(202);
		expect(await composedObjects()).toBe(objects + 1);
		expect(await composedInRow(answer.body.id)).toBeNull();
		expect((await call('GET', `/api/outbound/${answer.body.id}/raw`)).text).toBe(await (await env.MAIL_ARCHIVE.get(composedKey(answer.body.id)))!.text());
	});
});

describe("a row's copy of its composed message (migration 0019)", () => {
	const compose = (text: string, more: { html?: string; attachments?: Array<{ filename: string; contentType: string; content: string }> } = {}) =>
		composeMessage({
			from: { name: 'Acme Support', address: 'support@acme.test' },
			to: ['customer@example.org'],
			cc: [],
			subject: 'Re: Order',
			text,
			html: more.html,
			attachments: more.attachments ?? [],
			messageId: `${crypto.randomUUID()}@acme.test`,
			inReplyTo: null,
			references: [],
			date: new Date()
		});

	it('leaves out the text part\'s body and puts it back byte for byte: 7bit, quoted-printable, base64, alone or beside HTML and attachments', () => {
		const cases: Array<[string, Parameters<typeof compose>[0], Parameters<typeof compose>[1]]> = [
			['7bit, the whole message', 'Thanks for writing.\nWe shipped it.', {}],
			['7bit beside HTML', 'Hello\r\n.\r\nBye', { html: '<p>Hello</p>' }],
			['quoted-printable', 'Grüße aus Köln, votre numéro arrive. '.repeat(30), {}],
			['base64 with an attachment', '日本語のお問い合わせありがとうございます。'.repeat(10), { attachments: [{ filename: 'a.txt', contentType: 'text/plain', content: btoa('attached') }] }],
			['a text that is also in the HTML', 'Same words', { html: 'Same words' }]
		];
		for (const [name, text, more] of cases) {
			const composed = compose(text, more);
			const copy = rowCopy(composed, text);
			expect(copy.textAt, name).not.toBeNull();
			const encoding = /Content-Type: text\/plain; charset=UTF-8\r\nContent-Transfer-Encoding: ([\w-]+)/.exec(composed.raw)![1] as TextEncoding;
			expect(copy.composed.length, name).toBe(composed.raw.length - encodedText(text, encoding).length);
			expect(wholeComposed(copy), name).toBe(composed.raw);
		}
	});

	it('keeps the message whole when the text given is not the one it was composed from', () => {
		const composed = compose('The whole reply, as the help desk wrote it.');
		const copy = rowCopy(composed, 'Another reply altogether');
		expect(copy).toEqual({ composed: composed.raw, textAt: null, text: 'Another reply altogether' });
		expect(wholeComposed(copy)).toBe(composed.raw);
	});
});
