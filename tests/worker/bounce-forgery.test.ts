/**
 * Forged bounces through the real email() handler (issue 18, SPEC §10 "Bounces"): anyone who
 * received a reply knows its Message-ID (every later References names it). A report counts only
 * when the RETURNED message (its headers, or Original-Message-ID) names the reply and its failed
 * recipients are the reply's own; anything else is recorded on the reply as an unverified
 * report, changes no status and announces nothing to the help desk.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import type { OutboundItem } from '../../src/lib/schema/outbound';
import { formatFixture } from './bounce-format-cases';
import { handOver } from './deliver';
import { call, createIntegration, mailboxInput, unique } from './helpers';

vi.setConfig({ testTimeout: 60_000 });

const ports = JSON.parse(env.SMTP_TEST_PORTS) as Record<string, number>;

const CUSTOMER = 'casey@customer.example';
const COLLEAGUE = 'robin@customer.example';

/** A mailbox whose integration wants every event, so a false `outbound.bounced` would be recorded. */
async function mailbox() {
	const integration = await createIntegration();
	const hook = await call('PATCH', `/api/integrations/${integration.id}`, { body: { webhook: { url: `${env.WEBHOOK_TEST_ORIGIN}/${unique('forgery')}` } } });
	expect(hook.status, hook.text).toBe(200);
	const answer = await call('POST', '/api/mailboxes', {
		body: mailboxInput(integration.id, {
			smtp: { host: '127.0.0.1', port: ports.outbound, username: 'support@acme.test', password: 'Corr3ct-h0rse-battery', encryption: 'none' }
		})
	});
	expect(answer.status, answer.text).toBe(201);
	return answer.body as { id: string; address: string };
}

/** A reply to the customer (Cc a colleague), really sent through the queue to the loopback peer. */
async function sentReply(mailboxId: string): Promise<OutboundItem> {
	const answer = await call<OutboundItem>('POST', `/api/mailboxes/${mailboxId}/outbound`, {
		body: { to: [CUSTOMER], cc: [COLLEAGUE], subject: 'Your question', text: 'Answer.' }
	});
	expect(answer.status, answer.text).toBe(202);
	const deadline = Date.now() + 20_000;
	for (;;) {
		const item = (await call<OutboundItem>('GET', `/api/outbound/${answer.body.id}`)).body;
		if (item.status === 'sent') return item;
		if (Date.now() > deadline) throw new Error(`not sent: ${JSON.stringify(item)}`);
		await new Promise((resolve) => setTimeout(resolve, 200));
	}
}

interface ReportOptions {
	from: string;
	/** Extra top-level header lines (In-Reply-To, References, Original-Message-ID). */
	headers?: string[];
	/** Per-message fields of the delivery-status part. */
	perMessage?: string[];
	recipients: Array<{ address: string; action?: string; status?: string; diagnostic?: string }>;
	/** The returned message's headers, as an MTA attaches them. */
	returned?: { messageId: string; to: string };
}

/** An RFC 3464 multipart/report, shaped like Postfix's. */
function report(o: ReportOptions): string {
	const boundary = 'forged-boundary';
	const lines = [
		`From: ${o.from}`,
		'To: support@acme.example.com',
		'Subject: Undelivered Mail Returned to Sender',
		`Message-ID: <${unique('report')}@mx.sender.example>`,
		'Date: Mon, 7 Dec 2026 10:00:00 +0000',
		...(o.headers ?? []),
		'MIME-Version: 1.0',
		`Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
		'',
		`--${boundary}`,
		'Content-Type: text/plain; charset=us-ascii',
		'',
		'Your message could not be delivered to one or more recipients.',
		'',
		`--${boundary}`,
		'Content-Type: message/delivery-status',
		'',
		'Reporting-MTA: dns; mx.sender.example',
		...(o.perMessage ?? []),
		''
	];
	for (const r of o.recipients) {
		lines.push(`Final-Recipient: rfc822; ${r.address}`, `Action: ${r.action ?? 'failed'}`, `Status: ${r.status ?? '5.1.1'}`);
		lines.push(`Diagnostic-Code: smtp; ${r.diagnostic ?? `550 5.1.1 <${r.address}>: User unknown`}`, '');
	}
	if (o.returned) {
		lines.push(`--${boundary}`, 'Content-Type: text/rfc822-headers', '');
		lines.push('From: Acme Support <support@acme.example.com>', `To: ${o.returned.to}`, 'Subject: Your question', `Message-ID: <${o.returned.messageId}>`, '');
	}
	lines.push(`--${boundary}--`, '');
	return lines.join('\r\n');
}

async function deliver(raw: string, from: string, to: string): Promise<void> {
	const { rejected } = await handOver(raw, { from, to, hopIp: '192.0.2.25' });
	expect(rejected).toBeNull();
}

async function read(id: string): Promise<OutboundItem> {
	return (await call<OutboundItem>('GET', `/api/outbound/${id}`)).body;
}

async function bouncedEvents(id: string): Promise<number> {
	const row = await env.DB.prepare("SELECT COUNT(*) AS n FROM webhook_events WHERE subject_id = ?1 AND type = 'outbound.bounced'").bind(id).first<{ n: number }>();
	return row!.n;
}

describe('a forged bounce report', () => {
	it("(a) from an ordinary sender, naming the reply only in its own References, changes nothing and is kept as unverified", async () => {
		const box = await mailbox();
		const reply = await sentReply(box.id);
		const attacker = 'mallory@attacker.example';
		const raw = report({
			from: `Mallory <${attacker}>`,
			headers: [`In-Reply-To: <${reply.messageId}>`, `References: <thread-start@customer.example> <${reply.messageId}>`],
			recipients: [{ address: 'ceo@acme.example.com', diagnostic: '550 5.7.1 Your account is locked, call +1 555 0100' }]
		});
		await deliver(raw, attacker, box.address);

		const item = await read(reply.id);
		expect(item.status).toBe('sent');
		expect(item.bounce).toBeNull();
		expect(item.unverifiedReports).toEqual([
			expect.objectContaining({
				reason: 'thread-only',
				recipients: [expect.objectContaining({ finalRecipient: 'ceo@acme.example.com', status: '5.1.1', diagnosticCode: '550 5.7.1 Your account is locked, call +1 555 0100' })]
			})
		]);
		expect(await bouncedEvents(reply.id)).toBe(0);
		// The report itself is logged as a bounce (never handed to the help desk as a customer message).
		const log = await call('GET', `/api/messages/${item.unverifiedReports[0]!.logId}`);
		expect(log.body.kind).toBe('bounce');

		// Delivered again (Email Routing retries): recorded once.
		await deliver(raw, attacker, box.address);
		expect((await read(reply.id)).unverifiedReports).toHaveLength(1);
	});

	it("(b) whose returned headers name the reply but whose failed recipient is not the reply's changes nothing", async () => {
		const box = await mailbox();
		const reply = await sentReply(box.id);
		const raw = report({
			from: 'MAILER-DAEMON@mx.sender.example (Mail Delivery System)',
			recipients: [{ address: 'someone-else@customer.example' }],
			returned: { messageId: reply.messageId, to: CUSTOMER }
		});
		await deliver(raw, '', box.address);

		const item = await read(reply.id);
		expect(item.status).toBe('sent');
		expect(item.bounce).toBeNull();
		expect(item.unverifiedReports).toEqual([
			expect.objectContaining({ reason: 'not-a-recipient', recipients: [expect.objectContaining({ finalRecipient: 'someone-else@customer.example' })] })
		]);
		expect(await bouncedEvents(reply.id)).toBe(0);
	});

	it('(c) from a recipient naming its own address with the returned headers is a bounce', async () => {
		const box = await mailbox();
		const reply = await sentReply(box.id);
		const raw = report({
			from: `Casey <${CUSTOMER}>`,
			// Upper case and in angle brackets: compared as an address, recorded as the reply's own.
			recipients: [{ address: `<${CUSTOMER.toUpperCase()}>`, status: '5.2.2', diagnostic: '552 5.2.2 Mailbox full' }],
			returned: { messageId: reply.messageId, to: CUSTOMER }
		});
		await deliver(raw, CUSTOMER, box.address);

		const item = await read(reply.id);
		expect(item.status).toBe('bounced');
		expect(item.bounce!.recipients).toEqual([expect.objectContaining({ finalRecipient: CUSTOMER, status: '5.2.2' })]);
		expect(item.unverifiedReports).toEqual([]);
		expect(await bouncedEvents(reply.id)).toBe(1);
	});

	it('(d) matched by Original-Message-ID is a bounce; recipients the reply never had are dropped and kept as unverified', async () => {
		const box = await mailbox();
		const reply = await sentReply(box.id);
		const raw = report({
			from: 'Mail Delivery Subsystem <mailer-daemon@googlemail.com>',
			perMessage: [`X-Original-Message-ID: <${reply.messageId}>`],
			recipients: [{ address: COLLEAGUE }, { address: 'invented@elsewhere.example' }]
		});
		await deliver(raw, '', box.address);

		const item = await read(reply.id);
		expect(item.status).toBe('bounced');
		expect(item.bounce!.recipients.map((r) => r.finalRecipient)).toEqual([COLLEAGUE]);
		expect(item.unverifiedReports).toEqual([
			expect.objectContaining({ reason: 'not-a-recipient', recipients: [expect.objectContaining({ finalRecipient: 'invented@elsewhere.example' })] })
		]);
		expect(await bouncedEvents(reply.id)).toBe(1);
	});

	it("(e) a plain-text bounce whose only link is its own In-Reply-To is not applied", async () => {
		const box = await mailbox();
		const reply = await sentReply(box.id);
		const raw = [
			'From: MAILER-DAEMON@mail.sender.example',
			'To: support@acme.example.com',
			'Subject: failure notice',
			`In-Reply-To: <${reply.messageId}>`,
			'Date: Mon, 7 Dec 2026 10:00:00 +0000',
			'',
			'Hi. This is the qmail-send program at mail.sender.example.',
			"I'm afraid I wasn't able to deliver your message to the following addresses.",
			"This is a permanent error; I've given up. Sorry it didn't work out.",
			'',
			`<${CUSTOMER}>:`,
			'Sorry, no mailbox here by that name. (#5.1.1)',
			''
		].join('\r\n');
		await deliver(raw, '', box.address);

		const item = await read(reply.id);
		expect(item.status).toBe('sent');
		expect(item.bounce).toBeNull();
		expect(item.unverifiedReports).toEqual([expect.objectContaining({ reason: 'thread-only', recipients: [expect.objectContaining({ finalRecipient: CUSTOMER })] })]);
		expect(await bouncedEvents(reply.id)).toBe(0);
	});

	it("(f) a real GMX bounce whose returned headers name the reply but whose failed address is not the reply's changes nothing", async () => {
		const box = await mailbox();
		const reply = await sentReply(box.id);
		// SPEC §15's formats obey the same rule: the report is read, but shironeko@example.jp never had the reply.
		const raw = formatFixture('lhost-gmx-01.eml').replaceAll('trinity-d174cb7e-d4a8-4dd5-8b53-7a9f70928e75-1417217529360@3capp-mailcom-lxa02', reply.messageId);
		await deliver(raw, '', box.address);

		const item = await read(reply.id);
		expect(item.status).toBe('sent');
		expect(item.bounce).toBeNull();
		expect(item.unverifiedReports).toEqual([
			expect.objectContaining({ reason: 'not-a-recipient', recipients: [expect.objectContaining({ finalRecipient: 'shironeko@example.jp', status: '5.2.2' })] })
		]);
		expect(await bouncedEvents(reply.id)).toBe(0);
	});
});
