/// <reference types="vite/client" />
/**
 * Bounces through the real email() handler (SPEC §10 "Bounces"): each fixture MTA's bounce,
 * returned for a reply really sent through the queue to a loopback peer (to the recipients its
 * returned copy names), makes that reply `bounced` with each failed recipient (a delay notice only warns); the bounce is logged as
 * `kind: "bounce"`, accepted, never refused as a manual forward or for its null sender; an
 * unmatched one is logged without a match.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import type { OutboundItem } from '../../src/lib/schema/outbound';
import { encodeUtf7, formatCases, formatFixture, imailInUtf7 } from './bounce-format-cases';
import { handOver } from './deliver';
import { call, createIntegration, mailboxInput } from './helpers';

vi.setConfig({ testTimeout: 60_000 });

const fixtures = import.meta.glob<string>('../fixtures/bounces/*.eml', { query: '?raw', import: 'default', eager: true });
const ports = JSON.parse(env.SMTP_TEST_PORTS) as Record<string, number>;
const bounceFiles = Object.keys(fixtures)
	.map((path) => path.split('/').pop()!)
	.filter((file) => !file.startsWith('not-bounce'));
const DELAY_NOTICES = ['postfix-delayed.eml', 'exim-delay-plain.eml'];

async function mailbox() {
	const integration = await createIntegration();
	const answer = await call('POST', '/api/mailboxes', {
		body: mailboxInput(integration.id, {
			smtp: { host: '127.0.0.1', port: ports.outbound, username: 'support@acme.test', password: 'Corr3ct-h0rse-battery', encryption: 'none' }
		})
	});
	expect(answer.status, answer.text).toBe(201);
	return answer.body as { id: string; address: string };
}

async function sendReply(mailboxId: string, to: string | string[]): Promise<OutboundItem> {
	const answer = await call<OutboundItem>('POST', `/api/mailboxes/${mailboxId}/outbound`, {
		body: { to: Array.isArray(to) ? to : [to], subject: 'Your question', text: 'Answer.' }
	});
	expect(answer.status, answer.text).toBe(202);
	return answer.body;
}

async function waitSent(id: string): Promise<OutboundItem> {
	const deadline = Date.now() + 20_000;
	for (;;) {
		const item = (await call<OutboundItem>('GET', `/api/outbound/${id}`)).body;
		if (item.status === 'sent') return item;
		if (Date.now() > deadline) throw new Error(`not sent: ${JSON.stringify(item)}`);
		await new Promise((resolve) => setTimeout(resolve, 200));
	}
}

/**
 * Whom the returned copy in a fixture was sent to (its last To line): the reply a bounce is
 * returned for went to them, and a bounce counts only for the reply's own recipients (issue 18).
 */
function returnedTo(raw: string): string[] {
	const line = [...raw.matchAll(/^To:(.*)$/gim)].pop()![1]!;
	return line.split(',').map((part) => /<?([^\s<>,]+@[^\s<>,]+)>?/.exec(part)![1]!);
}

/** Delivers through email() as Email Routing does; returns the refusal, if any. */
async function deliverRaw(raw: string, options: { from: string; to: string }): Promise<string | null> {
	return (await handOver(raw, { ...options, hopIp: '192.0.2.25' })).rejected;
}

describe('bounces arriving at a service address', () => {
	it('match their reply by the returned Message-ID, for every MTA shape in the fixtures', async () => {
		const box = await mailbox();
		const replies = new Map<string, OutboundItem>();
		for (const file of bounceFiles) replies.set(file, await sendReply(box.id, returnedTo(fixtures[`../fixtures/bounces/${file}`]!)));
		for (const item of replies.values()) await waitSent(item.id);

		for (const file of bounceFiles) {
			const reply = replies.get(file)!;
			const raw = fixtures[`../fixtures/bounces/${file}`]!.replaceAll(`${file.replace(/\.eml$/, '')}.outbound@acme.example.com`, reply.messageId);
			expect(raw, file).toContain(reply.messageId);
			const refused = await deliverRaw(raw, { from: '', to: box.address });
			expect(refused, file).toBeNull();
			const item = (await call<OutboundItem>('GET', `/api/outbound/${reply.id}`)).body;
			// Each MTA's report is verified: its returned message names the reply, its recipients are the reply's.
			expect(item.unverifiedReports, file).toEqual([]);
			if (DELAY_NOTICES.includes(file)) {
				expect(item.status, file).toBe('sent');
				expect(item.bounce, file).toBeNull();
				expect(item.warnings.length, file).toBeGreaterThan(0);
				expect(item.warnings[0]!.status, file).toMatch(/^4\./);
				continue;
			}
			expect(item.status, `${file}: ${JSON.stringify(item.bounce)}`).toBe('bounced');
			expect(item.bounce!.recipients.length, file).toBeGreaterThan(0);
			for (const recipient of item.bounce!.recipients) {
				expect(['failed', null], file).toContain(recipient.action);
				expect([...reply.to, ...reply.cc, ...reply.bcc], file).toContain(recipient.finalRecipient);
				expect(recipient.hint.length, file).toBeGreaterThan(10);
			}
			// The DSN itself is in the log as a bounce, accepted, linked from the reply.
			const log = (await call('GET', `/api/messages/${item.bounce!.logId}`)).body;
			expect(log.kind, file).toBe('bounce');
			expect(log.verdict, file).toBe('accepted');
			expect(log.forwarding, file).toBe('none');
		}
		// A bounce counts in mailbox health.
		const health = await call('GET', `/api/mailbox-health?mailboxId=${box.id}`);
		expect(health.body.items[0].outbound.last30d.bounced).toBe(bounceFiles.length - DELAY_NOTICES.length);
		expect(health.body.items[0].outbound.last30d.sent).toBe(DELAY_NOTICES.length);
	});

	it('match their reply for every SPEC §15 format (real bounces, a UTF-7 report too), with each recipient, status and diagnostic', async () => {
		const box = await mailbox();
		const utf7 = 'imail in utf-7';
		// The UTF-7 plain report goes to email() directly like the rest: the local email endpoint refuses the label itself.
		const all = [
			...formatCases.map((c) => ({ ...c, raw: formatFixture(c.file) })),
			{ ...formatCases.find((c) => c.file === 'lhost-imailserver-01.eml')!, file: utf7, raw: imailInUtf7('utf-7') }
		];
		const replies: OutboundItem[] = [];
		for (const c of all) replies.push(await sendReply(box.id, c.recipients.map((r) => r.recipient)));
		for (const reply of replies) await waitSent(reply.id);

		for (const [i, c] of all.entries()) {
			const reply = replies[i]!;
			// The returned message's Message-ID becomes the reply's (in UTF-7 where the report is written in it).
			const written = (id: string) => (c.file === utf7 ? encodeUtf7(`<${id}>`) : id);
			const raw = c.raw.replaceAll(written(c.returnedId), written(reply.messageId));
			expect(raw, c.file).not.toBe(c.raw);
			expect(await deliverRaw(raw, { from: '', to: box.address }), c.file).toBeNull();
			const item = (await call<OutboundItem>('GET', `/api/outbound/${reply.id}`)).body;
			expect(item.unverifiedReports, c.file).toEqual([]);
			expect(item.status, `${c.file}: ${JSON.stringify(item.bounce)}`).toBe('bounced');
			expect(
				item.bounce!.recipients.map((r) => [r.finalRecipient, r.action, r.status, r.diagnosticCode]),
				c.file
			).toEqual(c.recipients.map((r) => [r.recipient, 'failed', r.status, r.diagnostic]));
		}
	});

	it('keeps each failed recipient with status, diagnostic, remote MTA and hint, and only the failed ones', async () => {
		const box = await mailbox();
		const reply = await sendReply(box.id, 'gina@example.org');
		await waitSent(reply.id);
		const raw = fixtures['../fixtures/bounces/multi-recipient.eml']!.replaceAll('multi-recipient.outbound@acme.example.com', reply.messageId);
		expect(await deliverRaw(raw, { from: 'MAILER-DAEMON@mx.acme.example.com', to: box.address })).toBeNull();
		const item = (await call<OutboundItem>('GET', `/api/outbound/${reply.id}`)).body;
		expect(item.status).toBe('bounced');
		expect(item.bounce!.recipients).toEqual([
			expect.objectContaining({ finalRecipient: 'gina@example.org', action: 'failed', status: '5.2.2', hint: expect.stringMatching(/full/i) })
		]);
		// Delivered again (Email Routing retries after a failed write): the same recipient once.
		await deliverRaw(raw, { from: '', to: box.address });
		expect((await call<OutboundItem>('GET', `/api/outbound/${reply.id}`)).body.bounce!.recipients).toHaveLength(1);
		// A bounced reply can be retried.
		expect((await call('POST', `/api/outbound/${reply.id}/retry`)).status).toBe(202);
	});

	it('logs a bounce for no reply of ours as a bounce without a match, and never matches another mailbox\'s reply', async () => {
		const box = await mailbox();
		const other = await mailbox();
		const theirs = await sendReply(other.id, 'nobody@example.org');
		await waitSent(theirs.id);
		const raw = fixtures['../fixtures/bounces/postfix-dsn.eml']!.replaceAll('postfix-dsn.outbound@acme.example.com', theirs.messageId);
		expect(await deliverRaw(raw, { from: '', to: box.address })).toBeNull();
		expect((await call<OutboundItem>('GET', `/api/outbound/${theirs.id}`)).body.status).toBe('sent');
		const log = await call('GET', `/api/messages?mailboxId=${box.id}`);
		expect(log.body.items).toEqual([expect.objectContaining({ kind: 'bounce', verdict: 'accepted' })]);
	});

	it('is not a bounce when a person forwards one or replies out of office', async () => {
		const box = await mailbox();
		await deliverRaw(fixtures['../fixtures/bounces/not-bounce-out-of-office.eml']!, { from: '', to: box.address });
		const log = await call('GET', `/api/messages?mailboxId=${box.id}`);
		expect(log.body.items.map((i: { kind: string }) => i.kind)).toEqual(['message']);
	});
});
