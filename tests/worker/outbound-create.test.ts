/**
 * Accepting a reply in one write (issue 22): the row and its rate limits in one D1 batch beside
 * the composed bytes, with the mailbox this isolate remembers. Through the real router, D1 and
 * R2; the queue is a recording stand-in, so nothing is sent. What must hold: a renamed or
 * deleted mailbox is never replied from as it was, a failed write leaves neither a row nor bytes,
 * and the queue hears of a reply only once both are stored.
 */
import { env } from 'cloudflare:test';
import PostalMime from 'postal-mime';
import { describe, expect, it } from 'vitest';
import { handleApi } from '../../worker/api/router';
import { composedKey } from '../../worker/archive/keys';
import { servicesFrom, type Services } from '../../worker/services';
import { ORIGIN, TOKEN, call, createMailbox } from './helpers';

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
		const stored = await env.MAIL_ARCHIVE.get(composedKey(second.body.id));
		expect((await PostalMime.parse(await stored!.arrayBuffer())).from).toMatchObject({ name: 'Acme Help', address: mailbox.address });
		// The attempt composed under the old name left no bytes behind.
		expect(await composedObjects()).toBe(objects + 1);
		expect(sent).toEqual([first.body.id, second.body.id]);

		expect((await call('DELETE', `/api/mailboxes/${mailbox.id}`)).status).toBe(204);
		expect((await post(mailbox.id, services)).status).toBe(404);
		expect(await composedObjects()).toBe(objects + 1);
		expect(sent).toHaveLength(2);
	});

	it('keeps neither a row nor bytes when the archive write fails, and tells the queue nothing', async () => {
		const { sent, queue } = recordingQueue();
		const mailbox = await createMailbox();
		const base = servicesFrom(env);
		const failing = { put: async () => Promise.reject(new Error('R2 is unavailable')), delete: (key: string) => env.MAIL_ARCHIVE.delete(key) };
		const answer = await post(mailbox.id, { ...base, archive: failing as unknown as R2Bucket, queues: { ...base.queues, replies: queue } });
		expect(answer.status).toBe(500);
		expect(await rows(mailbox.id)).toEqual([]);
		expect(sent).toEqual([]);
	});

	it('keeps no bytes when the row cannot be written', async () => {
		const { sent, queue } = recordingQueue();
		const mailbox = await createMailbox();
		const base = servicesFrom(env);
		const objects = await composedObjects();
		// A D1 that fails every batch (an outage): the bytes written beside the row are taken back.
		const db = new Proxy(env.DB, {
			get: (target, name) => (name === 'batch' ? async () => Promise.reject(new Error('D1 is unavailable')) : Reflect.get(target, name).bind(target))
		});
		const answer = await post(mailbox.id, { ...base, db, queues: { ...base.queues, replies: queue } });
		expect(answer.status).toBe(500);
		expect(await composedObjects()).toBe(objects);
		expect(await rows(mailbox.id)).toEqual([]);
		expect(sent).toEqual([]);
	});
});
