/**
 * Issue 18 (High): nothing an inbound message says may write into a reply we send. A
 * sender's Message-ID, In-Reply-To and References are read from the raw header with the
 * msg-id rule (src/lib/schema/message-id.ts), stored rows are checked again when a reply is
 * threaded from them, the composer refuses line breaks in every header it writes, and DATA
 * never carries a bare line end. End to end: the real email() handler, the real API, the real
 * queue consumer and the bytes a real smtp-server peer on loopback received. Also the Low
 * finding: `inReplyTo` is looked up in the replying mailbox only.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { isMessageId, MAX_MESSAGE_ID_LENGTH, parseMessageId, parseMessageIdList } from '../../src/lib/schema/message-id';
import type { OutboundItem } from '../../src/lib/schema/outbound';
import { oneLine, readHeaderField } from '../../worker/mail/header-field';
import { readThreadIds, replyReferences } from '../../worker/mail/thread-ids';
import { checkComposedHeaders } from '../../worker/mail/composed-headers';
import { composeMessage, type ComposeInput } from '../../worker/mail/compose';
import { stuffDots } from '../../worker/smtp/transaction';
import { handOver } from './deliver';
import { call, createIntegration, mailboxInput, unique } from './helpers';

const ports = JSON.parse(env.SMTP_TEST_PORTS) as Record<string, number>;

// Each reply waits for its queue batch.
vi.setConfig({ testTimeout: 40_000 });

/** The payload: CR LF as RFC 2047 Q-encoding, which postal-mime decodes in Message-ID. */
const INJECTING_ID =
	'=?UTF-8?Q?<x@attacker.example>=0D=0AReply-To:_attacker@evil.example=0D=0AContent-Type:_text/html=0D=0A=0D=0A<h1>Your_account_is_locked</h1>?=';
/** SMTP smuggling (a bare LF before the dot): ends DATA early at servers that take <LF>.<CR><LF>. */
const SMUGGLING_ID =
	'=?UTF-8?Q?<x@attacker.example>=0A.=0D=0AMAIL_FROM:<attacker@evil.example>=0D=0ARCPT_TO:<victim@victim.example>=0D=0ADATA=0D=0A?=';

interface Received {
	server: string;
	session: string;
	from: string;
	to: string[];
	data: string;
}

async function mailboxOn(integrationId?: string) {
	const integration = integrationId ?? (await createIntegration()).id;
	const answer = await call('POST', '/api/mailboxes', {
		body: mailboxInput(integration, {
			name: 'Acme Support',
			smtp: { host: '127.0.0.1', port: ports.outbound, username: 'support@acme.test', password: 'Corr3ct-h0rse-battery', encryption: 'none' }
		})
	});
	expect(answer.status, answer.text).toBe(201);
	return answer.body as { id: string; address: string };
}

/** A message as a sender writes it: `fields` verbatim (so hostile values stay exactly as sent). */
function rawMessage(fields: Array<[string, string]>, body = 'Hello,\r\nplease help.\r\n'): string {
	const lines = [...fields.map(([name, value]) => `${name}: ${value}`), 'Date: Tue, 14 Oct 2025 12:00:00 +0000', 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8'];
	return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

/** Delivers through email() and returns the mailbox's newest log item. */
async function deliverTo(mailbox: { id: string; address: string }, raw: string) {
	const { rejected } = await handOver(raw, { from: 'alice@customer.example', to: mailbox.address, hopIp: '192.0.2.10' });
	expect(rejected).toBeNull();
	const log = await call('GET', `/api/messages?mailboxId=${mailbox.id}`);
	expect(log.status, log.text).toBe(200);
	return log.body.items[0] as { id: string; messageId: string | null; subject: string | null };
}

async function post(mailboxId: string, body: Record<string, unknown>, token?: string) {
	return call<OutboundItem & { error?: any }>('POST', `/api/mailboxes/${mailboxId}/outbound`, { body, token });
}

/** Waits for the real queue consumer to settle the reply, then returns what the peer received for it. */
async function sentBytes(id: string, messageId: string): Promise<string> {
	const deadline = Date.now() + 25_000;
	for (;;) {
		const item = (await call<OutboundItem>('GET', `/api/outbound/${id}`)).body;
		if (!['queued', 'sending'].includes(item.status)) {
			expect(item.status, JSON.stringify(item.attempts)).toBe('sent');
			break;
		}
		if (Date.now() > deadline) throw new Error(`outbound ${id} still ${item.status}`);
		await new Promise((resolve) => setTimeout(resolve, 200));
	}
	const received = (await (await fetch(`http://127.0.0.1:${ports.control}/received`)).json()) as Received[];
	const mine = received.filter((r) => r.data.includes(`Message-ID: <${messageId}>`));
	expect(mine, 'exactly one message reached the peer for this reply').toHaveLength(1);
	return mine[0]!.data;
}

/** What the peer got is our reply and nothing else: our headers once each, no attacker bytes, CRLF only. */
function expectOurs(data: string) {
	const head = data.slice(0, data.indexOf('\r\n\r\n') + 2);
	expect(data).not.toMatch(/(?<!\r)\n|\r(?!\n)/);
	expect(data).not.toContain('\n.\r\n');
	expect(data).not.toMatch(/attacker|evil\.example|victim|account is locked|MAIL FROM|RCPT TO/i);
	expect(head.match(/^Reply-To:/gim)).toBeNull();
	const contentTypes = head.match(/^Content-Type:.*$/gim) ?? [];
	expect(contentTypes).toHaveLength(1);
	expect(contentTypes[0]).toMatch(/^Content-Type: (text\/plain|multipart\/(alternative|mixed));/i);
	for (const name of ['In-Reply-To', 'Message-ID']) {
		const fields = head.match(new RegExp(`^${name}:.*$`, 'gim')) ?? [];
		expect(fields.length).toBeLessThanOrEqual(1);
		if (fields[0]) expect(isMessageId(/^[^:]+: <([^<>]*)>$/.exec(fields[0])?.[1] ?? '')).toBe(true);
	}
}

describe('an inbound Message-ID cannot write into a reply (end to end)', () => {
	it('CR LF in an encoded-word Message-ID: no header or body of the attacker in the reply', async () => {
		const mailbox = await mailboxOn();
		const item = await deliverTo(
			mailbox,
			rawMessage([
				['From', 'Alice <alice@customer.example>'],
				['To', mailbox.address],
				['Subject', '=?UTF-8?Q?Locked=0D=0ABcc:_someone@elsewhere.test?='],
				['Message-ID', INJECTING_ID]
			])
		);
		// What the app's Reply does: name the log item.
		const answer = await post(mailbox.id, { to: ['alice@customer.example'], text: 'We looked into it.', inReplyTo: item.id });
		expect(answer.status, answer.text).toBe(202);
		const data = await sentBytes(answer.body.id, answer.body.messageId);
		expectOurs(data);
		expect(data).not.toMatch(/^(In-Reply-To|Bcc):/im);
		// The subject still comes from the thread, as one line.
		expect(answer.body.subject).toBe('Re: Locked Bcc: someone@elsewhere.test');
		expect(answer.body.inReplyTo).toBeNull();
		// Nothing that is not a msg-id is stored as one.
		expect(item.messageId).toBeNull();
	});

	it('a bare LF before a dot (SMTP smuggling) never reaches DATA', async () => {
		const mailbox = await mailboxOn();
		const item = await deliverTo(
			mailbox,
			rawMessage([
				['From', 'Alice <alice@customer.example>'],
				['To', mailbox.address],
				['Subject', 'Locked'],
				['Message-ID', SMUGGLING_ID],
				['In-Reply-To', '=?UTF-8?Q?<a@customer.example>=0A.=0D=0AQUIT?='],
				['References', '<ok-1@customer.example> =?UTF-8?Q?<b@x=0D=0ARCPT_TO:victim@victim.example>?=']
			])
		);
		const answer = await post(mailbox.id, { to: ['alice@customer.example'], text: 'Hello.\n.\r\nMAIL FROM:<x@y>\r\n', inReplyTo: item.id });
		expect(answer.status, answer.text).toBe(202);
		const data = await sentBytes(answer.body.id, answer.body.messageId);
		const bodyAt = data.indexOf('\r\n\r\n') + 4;
		expectOurs(data.slice(0, bodyAt));
		// The help desk's own text travels as it is (7bit): the bare LF became CRLF, the lone dot went
		// dot-stuffed and came back a line of the text, and its MAIL FROM is words in it, never a command.
		expect(data).not.toMatch(/(?<!\r)\n|\r(?!\n)/);
		expect(data.slice(bodyAt)).toBe('Hello.\r\n.\r\nMAIL FROM:<x@y>\r\n\r\n');
		const received = (await (await fetch(`http://127.0.0.1:${ports.control}/received`)).json()) as Received[];
		expect(received.filter((r) => r.from === 'x@y' || r.to.includes('victim@victim.example'))).toEqual([]);
		// The thread's valid ids survive, the rest is dropped.
		expect(data).toMatch(/^References: <ok-1@customer\.example>\r\n/m);
	});

	it('a legitimate message still threads: In-Reply-To its Message-ID, References its chain plus it', async () => {
		const mailbox = await mailboxOn();
		const original = `${unique('q')}.1700000000000..JavaMail.app@mail.customer.example`;
		const older1 = `${unique('older-1')}@customer.example`;
		const older2 = `${unique('older-2')}@[192.0.2.7]`;
		const item = await deliverTo(
			mailbox,
			rawMessage([
				['From', 'Alice <alice@customer.example>'],
				['To', mailbox.address],
				['Subject', 'Where is my order?'],
				['message-id', `  <${original}> (added by relay)`],
				['In-Reply-To', `Your message of Monday <${older2}>`],
				['References', `<${older1}>\r\n\t<${older2}>`]
			])
		);
		expect(item.messageId).toBe(original);
		const answer = await post(mailbox.id, { to: ['alice@customer.example'], text: 'It left today.', inReplyTo: item.id });
		expect(answer.status, answer.text).toBe(202);
		expect(answer.body).toMatchObject({ subject: 'Re: Where is my order?', inReplyTo: original });
		const data = await sentBytes(answer.body.id, answer.body.messageId);
		expectOurs(data);
		expect(data).toContain(`\r\nIn-Reply-To: <${original}>\r\n`);
		const references = /^References: (.*(?:\r\n[ \t].*)*)/m.exec(data)![1]!.replace(/\r\n[ \t]/g, ' ');
		expect(references).toBe(`<${older1}> <${older2}> <${original}>`);

		// By Message-ID too (the other form SPEC §10 allows), with or without brackets.
		for (const inReplyTo of [original, `<${original}>`]) {
			const byId = await post(mailbox.id, { to: ['alice@customer.example'], text: 'Again.', inReplyTo });
			expect(byId.status, byId.text).toBe(202);
			expect(byId.body).toMatchObject({ subject: 'Re: Where is my order?', inReplyTo: original });
		}
	});

	it('a row stored by the old code with a dirty Message-ID or References never reaches a reply', async () => {
		const mailbox = await mailboxOn();
		const clean = `${unique('clean')}@customer.example`;
		const item = await deliverTo(mailbox, rawMessage([['From', 'alice@customer.example'], ['To', mailbox.address], ['Subject', 'Old row'], ['Message-ID', `<${clean}>`]]));
		// As the old code stored the decoded value (trimmed, brackets stripped), and a header block with ids no msg-id allows.
		const dirty = 'x@attacker.example>\r\nReply-To: attacker@evil.example\r\nContent-Type: text/html\r\n\r\n<h1>Your account is locked</h1';
		const headers = `Subject: Old row\r\nReferences: <ok-2@customer.example> <ünï@evil.example> <a"b@evil.example>\r\n <attacker@[evil\\.example]>\r\n\r\n`;
		await env.DB.prepare('UPDATE messages SET message_id = ?1, headers = ?2 WHERE id = ?3').bind(dirty, headers, item.id).run();

		const answer = await post(mailbox.id, { to: ['alice@customer.example'], text: 'Hello.', inReplyTo: item.id });
		expect(answer.status, answer.text).toBe(202);
		expect(answer.body.inReplyTo).toBeNull();
		const data = await sentBytes(answer.body.id, answer.body.messageId);
		expectOurs(data);
		// RFC 5322 §3.6.4: a parent without a (valid) Message-ID gives no In-Reply-To; its valid References stay.
		expect(data).not.toMatch(/^In-Reply-To:/im);
		expect(data).toMatch(/^References: <ok-2@customer\.example>\r\n(?![ \t])/m);

		// The migration clears such rows for good (and keeps clean ones).
		const migration = env.TEST_MIGRATIONS.find((m) => m.name.startsWith('0010_'));
		expect(migration?.name).toBe('0010_clean_message_ids.sql');
		const other = await deliverTo(mailbox, rawMessage([['From', 'alice@customer.example'], ['To', mailbox.address], ['Subject', 'Other'], ['Message-ID', `<${unique('kept')}@customer.example>`]]));
		for (const query of migration!.queries) await env.DB.prepare(query).run();
		const rows = await env.DB.prepare('SELECT id, message_id FROM messages WHERE id IN (?1, ?2)').bind(item.id, other.id).all<{ id: string; message_id: string | null }>();
		expect(Object.fromEntries(rows.results.map((r) => [r.id, r.message_id]))).toEqual({ [item.id]: null, [other.id]: other.messageId });
	});
});

describe('a reply stored by the old code with injected headers is never sent again', () => {
	it('Retry on such a reply fails it with a plain reason; the peer gets nothing more', async () => {
		const mailbox = await mailboxOn();
		const answer = await post(mailbox.id, { to: ['alice@customer.example'], subject: 'Your order', text: 'Hello.' });
		expect(answer.status, answer.text).toBe(202);
		const first = await sentBytes(answer.body.id, answer.body.messageId);
		// As the old composer wrote it from an injecting inbound Message-ID: the stored .eml carries the attacker's fields.
		const injected = first.replace(/^In-Reply-To:.*\r\n|^References:.*\r\n/gm, '').replace(
			/^Subject: .*\r\n/m,
			(subject) => `${subject}In-Reply-To: <x@attacker.example>\r\nReply-To: attacker@evil.example\r\nContent-Type: text/html\r\n`
		);
		await env.MAIL_ARCHIVE.put(`outbound/${answer.body.id}`, injected);
		await env.DB.prepare("UPDATE outbound SET status = 'failed' WHERE id = ?1").bind(answer.body.id).run();

		const retry = await call('POST', `/api/outbound/${answer.body.id}/retry`, { body: {} });
		expect(retry.status, retry.text).toBeLessThan(300);
		const deadline = Date.now() + 25_000;
		let item: OutboundItem;
		for (;;) {
			item = (await call<OutboundItem>('GET', `/api/outbound/${answer.body.id}`)).body;
			if (item.status === 'failed' && item.attempts.length >= 2) break;
			if (Date.now() > deadline) throw new Error(`still ${item.status}`);
			await new Promise((resolve) => setTimeout(resolve, 200));
		}
		expect(item.attempts.at(-1)).toMatchObject({ category: 'config' });
		expect(item.attempts.at(-1)!.hint).toMatch(/composed before .*Reply-To/);
		const received = (await (await fetch(`http://127.0.0.1:${ports.control}/received`)).json()) as Received[];
		expect(received.filter((r) => r.data.includes(`Message-ID: <${answer.body.messageId}>`))).toHaveLength(1);
	});

	it('checkComposedHeaders takes what the composer writes and nothing else', () => {
		const base: ComposeInput = {
			from: { name: 'Acme', address: 'help@acme.test' },
			to: ['a@customer.example'],
			cc: ['b@customer.example'],
			subject: 'Hi',
			text: 't',
			html: '<p>h</p>',
			attachments: [{ filename: 'a.txt', contentType: 'text/plain', content: 'YQ==' }],
			messageId: 'id-1@acme.test',
			inReplyTo: 'p@customer.example',
			references: ['o@customer.example', 'p@customer.example'],
			date: new Date(),
			extraHeaders: { 'X-Mailgate-Probe': 'token' }
		};
		const { raw } = composeMessage(base);
		expect(checkComposedHeaders(raw)).toBeNull();
		expect(checkComposedHeaders(composeMessage({ ...base, inReplyTo: null, references: [], cc: [], extraHeaders: {} }).raw)).toBeNull();
		// Text only: one part, its Content-Transfer-Encoding at the top.
		expect(checkComposedHeaders(composeMessage({ ...base, html: null, attachments: [] }).raw)).toBeNull();
		const head = (extra: string) => raw.replace('\r\nMIME-Version:', `\r\n${extra}\r\nMIME-Version:`);
		expect(checkComposedHeaders(head('Reply-To: x@evil.example'))).toMatch(/does not write/);
		expect(checkComposedHeaders(head('Content-Type: text/html'))).toMatch(/two content-type/);
		expect(checkComposedHeaders(raw.replace(/^In-Reply-To: .*$/m, 'In-Reply-To: <a@b> junk'))).toMatch(/In-Reply-To/);
		expect(checkComposedHeaders(raw.replace(/^References: .*$/m, 'References: <a@b> <c d@e>'))).toMatch(/References/);
		expect(checkComposedHeaders(raw.replace('\r\nMIME-Version:', '\nMIME-Version:'))).toMatch(/bare line break/);
	});
});

describe('the message.received payload carries only msg-ids', () => {
	it('inReplyTo and references are the raw header read by the msg-id rule, and still match our reply', async () => {
		const integration = await createIntegration();
		const path = `/ok/${unique('ids')}`;
		const patched = await call('PATCH', `/api/integrations/${integration.id}`, { body: { webhook: { url: `${env.WEBHOOK_TEST_ORIGIN}${path}` } } });
		expect(patched.status, patched.text).toBe(200);
		const mailbox = await mailboxOn(integration.id);
		const ours = await post(mailbox.id, { to: ['alice@customer.example'], subject: 'Your order', text: 'Shipped.', metadata: { ticket: 'T-18' } });
		expect(ours.status, ours.text).toBe(202);
		const older = `${unique('older')}@customer.example`;
		await deliverTo(
			mailbox,
			rawMessage([
				['From', 'alice@customer.example'],
				['To', mailbox.address],
				['Subject', 'Re: Your order'],
				['Message-ID', INJECTING_ID],
				// postal-mime decodes this to "<a@b CR LF X: y>"; raw, it is no msg-id.
				['In-Reply-To', '=?UTF-8?Q?<a@b=0D=0AX:_y>?='],
				['References', `<${older}>\r\n =?UTF-8?Q?<r2@x=0D=0ABcc:_z>?= <${ours.body.messageId}>`]
			])
		);
		const deadline = Date.now() + 15_000;
		let hooks: Array<{ body: string }> = [];
		while (hooks.length === 0 && Date.now() < deadline) {
			await new Promise((resolve) => setTimeout(resolve, 150));
			hooks = (await (await fetch(`${env.WEBHOOK_TEST_ORIGIN}/__received?path=${encodeURIComponent(path)}`)).json()) as Array<{ body: string }>;
		}
		expect(hooks).toHaveLength(1);
		const data = JSON.parse(hooks[0]!.body).data;
		expect(data).toMatchObject({
			messageId: null,
			inReplyTo: null,
			references: [older, ours.body.messageId],
			thread: { outboundId: ours.body.id, metadata: { ticket: 'T-18' } }
		});
	});
});

describe('POST /api/mailboxes/:id/outbound refuses header-bound values that are not what they claim', () => {
	it('422 on the field for CR, LF or NUL, and for an inReplyTo that is neither a log id nor a msg-id', async () => {
		const mailbox = await mailboxOn();
		const base = { to: ['a@customer.example'], text: 'x', subject: 's' };
		const cases: Array<[Record<string, unknown>, string]> = [
			[{ ...base, inReplyTo: '<a@b.example>\r\nBcc: evil@evil.example' }, 'inReplyTo'],
			[{ ...base, inReplyTo: '=?UTF-8?Q?<a@b.example>=0D=0ABcc:_evil@evil.example?=' }, 'inReplyTo'],
			[{ ...base, inReplyTo: 'a@b.example>\u0000' }, 'inReplyTo'],
			[{ ...base, inReplyTo: 'not-a-message-id' }, 'inReplyTo'],
			[{ ...base, inReplyTo: '<a@b.example> <c@d.example>' }, 'inReplyTo'],
			[{ ...base, inReplyTo: `<${'a'.repeat(MAX_MESSAGE_ID_LENGTH)}@b.example>` }, 'inReplyTo'],
			[{ ...base, subject: 'Hi\r\nBcc: evil@evil.example' }, 'subject'],
			[{ ...base, subject: 'Hi\nthere' }, 'subject'],
			[{ ...base, subject: 'Hi\u0000' }, 'subject'],
			[{ ...base, attachments: [{ filename: 'a\r\nContent-Type: text/html.pdf', contentType: 'application/pdf', content: '' }] }, 'attachments.0.filename'],
			[{ ...base, attachments: [{ filename: 'a.pdf', contentType: 'application/pdf\r\nX-Evil: 1', content: '' }] }, 'attachments.0.contentType']
		];
		for (const [body, field] of cases) {
			const answer = await post(mailbox.id, body);
			expect(answer.status, `${JSON.stringify(body).slice(0, 120)}: ${answer.text}`).toBe(422);
			expect(Object.keys(answer.body.error.fields), answer.text).toContain(field);
		}
		const message = (await post(mailbox.id, { ...base, inReplyTo: 'not-a-message-id' })).body.error.fields.inReplyTo;
		expect(message).toMatch(/Message-ID/);
	});

	it("an API key cannot read another integration's subject or References by naming its log id or Message-ID", async () => {
		const theirs = await mailboxOn();
		const secretId = `${unique('secret')}@customer.example`;
		const secretRef = `${unique('secret-ref')}@customer.example`;
		const theirItem = await deliverTo(
			theirs,
			rawMessage([['From', 'alice@customer.example'], ['To', theirs.address], ['Subject', 'Secret subject of theirs'], ['Message-ID', `<${secretId}>`], ['References', `<${secretRef}>`]])
		);
		const integration = await createIntegration();
		const mine = await mailboxOn(integration.id);
		const key = (await call('POST', `/api/integrations/${integration.id}/keys`, { body: { name: 'Desk B' } })).body.key as string;

		for (const inReplyTo of [theirItem.id, secretId, `<${secretId}>`]) {
			const noSubject = await post(mine.id, { to: ['b@customer.example'], text: 'x', inReplyTo }, key);
			expect(noSubject.status, noSubject.text).toBe(422);
			expect(Object.keys(noSubject.body.error.fields)).toEqual(['subject']);
			expect(noSubject.text).not.toContain('Secret subject');
		}
		// With a subject the log id is unknown here (no thread at all) and the Message-ID threads by itself only.
		const byLogId = await post(mine.id, { to: ['b@customer.example'], text: 'x', subject: 'Mine', inReplyTo: theirItem.id }, key);
		expect(byLogId.status, byLogId.text).toBe(202);
		expect(byLogId.body.inReplyTo).toBeNull();
		const byMessageId = await post(mine.id, { to: ['b@customer.example'], text: 'x', subject: 'Mine', inReplyTo: secretId }, key);
		expect(byMessageId.status, byMessageId.text).toBe(202);
		for (const id of [byLogId.body.id, byMessageId.body.id]) {
			const detail = await call('GET', `/api/outbound/${id}`, { token: key });
			expect(detail.body.headers).not.toContain(secretRef);
			expect(detail.body.headers).not.toContain('Secret subject');
			expect(detail.text).not.toContain(theirItem.id);
		}
		// The admin replying from their own mailbox still threads fully.
		const own = await post(theirs.id, { to: ['b@customer.example'], text: 'x', inReplyTo: theirItem.id });
		expect(own.status, own.text).toBe(202);
		expect(own.body.subject).toBe('Re: Secret subject of theirs');
		const ownHeaders = (await call('GET', `/api/outbound/${own.body.id}`)).body.headers as string;
		expect(ownHeaders.replace(/\r\n[ \t]/g, ' ')).toContain(`References: <${secretRef}> <${secretId}>\r\n`);
	});
});

describe('msg-id syntax (RFC 5322 §3.6.4), bounded', () => {
	it('takes real ids and nothing with a line break, an encoded word or a bracket inside', () => {
		for (const id of ['abc@example.com', '1234.5678..JavaMail.tomcat@app01', 'CAF=x+y_z@mail.gmail.com', 'a@[192.0.2.1]', 'x.y@a-b.example', "!#$%&'*+-/=?^_`{|}~@x"]) {
			expect(isMessageId(id), id).toBe(true);
			expect(parseMessageId(`<${id}>`), id).toBe(id);
		}
		for (const id of ['a@b\r\nX: y', 'a\n@b', 'a@b\u0000', 'a b@c', 'a@b c', '<a@b>', 'a@', '@b', 'ab', '.a@b', 'a.@b', 'a@.b', 'a@b.', 'a@b..c', 'a@[a]b]', 'a@[\\]', 'ünï@x', 'a@b\r', `${'a'.repeat(MAX_MESSAGE_ID_LENGTH)}@b`]) {
			expect(isMessageId(id), JSON.stringify(id)).toBe(false);
		}
		expect(parseMessageId(INJECTING_ID)).toBeNull();
		expect(parseMessageId(SMUGGLING_ID)).toBeNull();
		expect(parseMessageId('<x@attacker.example>\r\nReply-To: a@evil.example')).toBeNull();
		expect(parseMessageId('<a@b> <c@d>')).toBeNull();
		expect(parseMessageId('  <a@b.example> (relay)  ')).toBe('a@b.example');
		expect(parseMessageId('a@b.example')).toBe('a@b.example');
		expect(parseMessageId('')).toBeNull();
		expect(parseMessageIdList('<a@b> junk <bad id@x> <c@d>\r\n <a@b> =?UTF-8?Q?<e@f=0D=0AX:_y>?=')).toEqual(['a@b', 'c@d']);
		// An id standing in raw text is an id (it is inert as it stands); nothing is decoded.
		expect(parseMessageIdList('=?UTF-8?Q?<e@f>=0D=0AX:_y?=')).toEqual(['e@f']);
		expect(parseMessageIdList(Array.from({ length: 500 }, (_, i) => `<id${i}@x>`).join(' '))).toHaveLength(100);
	});

	it('stays linear on hostile input', () => {
		const hostile = [
			'<'.repeat(1_000_000),
			'('.repeat(1_000_000),
			'(\\'.repeat(500_000),
			`<${'a'.repeat(511)}`.repeat(2_000),
			`(${'a'.repeat(600)}`.repeat(2_000),
			`<${'a.'.repeat(120)}@${'b.'.repeat(500)}>`.repeat(100),
			'a'.repeat(1_000_000) + '@'
		];
		for (const value of hostile) {
			const started = performance.now();
			parseMessageId(value);
			parseMessageIdList(value);
			isMessageId(value);
			readHeaderField(`References: ${value}\r\n`, 'References');
			// Linear: a few milliseconds each; a quadratic scan of these would take minutes. The bound leaves room for a loaded machine.
			expect(performance.now() - started, value.slice(0, 20)).toBeLessThan(500);
		}
	});
});

describe('readHeaderField', () => {
	const block = 'Received: from a\r\n\tby b\r\nmessage-ID  :  <a@b>\r\nReferences: <1@x>\r\n <2@x>\n\t<3@x>\r\nMessage-ID: <second@x>\r\nSubject: =?UTF-8?Q?a=0D=0Ab?=\r\n\r\nReferences: <body@x>\r\n';
	it('reads the first field of that name, unfolded, undecoded, only in the header section', () => {
		expect(readHeaderField(block, 'Message-ID')).toBe('<a@b>');
		expect(readHeaderField(block, 'references')).toBe('<1@x> <2@x>\t<3@x>');
		expect(readHeaderField(block, 'Subject')).toBe('=?UTF-8?Q?a=0D=0Ab?=');
		expect(readHeaderField(block, 'In-Reply-To')).toBeNull();
		expect(readHeaderField('Subject: x\r\n\r\nIn-Reply-To: <body@x>\r\n', 'In-Reply-To')).toBeNull();
		expect(readHeaderField('X: 1\r\n\tMessage-ID: <folded@x>\r\n', 'Message-ID')).toBeNull();
		expect(readHeaderField('Message-ID: <a@b>\rX: y\r\n', 'Message-ID')).toBe('<a@b>\rX: y');
		expect(parseMessageId(readHeaderField('Message-ID: <a@b>\rX: y\r\n', 'Message-ID'))).toBeNull();
		expect(oneLine('Locked\r\nBcc: x@y\u0000\n z')).toBe('Locked Bcc: x@y  z');
	});
});

describe('readThreadIds and replyReferences (RFC 5322 §3.6.4)', () => {
	it('reads the three fields raw, and builds a reply\'s References from the parent', () => {
		const hostile = readThreadIds(`Message-ID: ${INJECTING_ID}\r\nIn-Reply-To: =?UTF-8?Q?<a@b=0D=0AX:_y>?=\r\nReferences: <r1@x>\r\n\t<bad id@x> <r2@x>\r\n\r\n`);
		expect(hostile).toEqual({ messageId: null, inReplyTo: [], references: ['r1@x', 'r2@x'] });
		expect(replyReferences(hostile, 50)).toEqual(['r1@x', 'r2@x']);
		// Without References, a parent's In-Reply-To stands in; its own id comes last, once.
		expect(replyReferences({ messageId: 'p@x', inReplyTo: ['q@x'], references: [] }, 50)).toEqual(['q@x', 'p@x']);
		expect(replyReferences({ messageId: 'p@x', inReplyTo: [], references: ['a@x', 'p@x'] }, 50)).toEqual(['a@x', 'p@x']);
		expect(replyReferences({ messageId: null, inReplyTo: [], references: [] }, 50)).toEqual([]);
		// Past the cap: the first id and the newest ones.
		const long = replyReferences({ messageId: 'p@x', inReplyTo: [], references: Array.from({ length: 80 }, (_, i) => `r${i}@x`) }, 50);
		expect(long).toHaveLength(50);
		expect(long[0]).toBe('r0@x');
		expect(long.slice(-2)).toEqual(['r79@x', 'p@x']);
	});
});

describe('the composer writes no line break it was not meant to', () => {
	const input: ComposeInput = {
		from: { name: 'Acme Support', address: 'support@acme.example' },
		to: ['a@customer.example'],
		cc: [],
		subject: 'Hello',
		text: 'x',
		attachments: [],
		messageId: 'id@acme.example',
		inReplyTo: 'parent@customer.example',
		references: ['older@customer.example', 'parent@customer.example'],
		date: new Date('2026-01-01T00:00:00Z')
	};
	it('composes a clean message', () => {
		const { headers } = composeMessage(input);
		expect(headers).toContain('In-Reply-To: <parent@customer.example>\r\n');
		expect(headers).toContain('References: <older@customer.example> <parent@customer.example>\r\n');
	});
	it('throws (a programmer error) for CR, LF or NUL in any header value, and for ids that are not msg-ids', () => {
		const bad: Array<[string, Partial<ComposeInput>]> = [
			['from name', { from: { name: 'A\r\nBcc: x@evil.example', address: 'support@acme.example' } }],
			['from name (non-ASCII)', { from: { name: 'Équipe\nBcc: x@evil.example', address: 'support@acme.example' } }],
			['from address', { from: { name: 'A', address: 'support@acme.example\r\nBcc: x@evil.example' } }],
			['to', { to: ['a@customer.example\r\nBcc: x@evil.example'] }],
			['cc', { cc: ['a@customer.example\n'] }],
			['subject', { subject: 'Hi\r\nBcc: x@evil.example' }],
			['subject (non-ASCII)', { subject: 'Grüße\u0000' }],
			['message id', { messageId: 'id@acme.example>\r\nX: y' }],
			['in-reply-to', { inReplyTo: 'a@b>\r\nReply-To: x@evil.example' }],
			['in-reply-to syntax', { inReplyTo: 'not an id' }],
			['references', { references: ['ok@x', 'a@b>\nX: y'] }],
			['extra header name', { extraHeaders: { 'X-A\r\nBcc': 'v' } }],
			['extra header value', { extraHeaders: { 'X-A': 'v\r\nBcc: x@evil.example' } }],
			['attachment filename', { attachments: [{ filename: 'a\r\n.pdf', contentType: 'application/pdf', content: '' }] }],
			['attachment type', { attachments: [{ filename: 'a.pdf', contentType: 'application/pdf\r\nX: y', content: '' }] }]
		];
		for (const [what, change] of bad) expect(() => composeMessage({ ...input, ...change }), what).toThrow(/line break|NUL|Message-ID|header/i);
	});
});

describe('stuffDots (RFC 5321 §4.5.2) after line ends normalised (RFC 5321 §2.3.8)', () => {
	it('turns every bare CR and bare LF into CRLF, then doubles a dot that starts a line', () => {
		expect(stuffDots('a\r\nb')).toBe('a\r\nb\r\n.\r\n');
		expect(stuffDots('.a\r\n')).toBe('..a\r\n.\r\n');
		expect(stuffDots('a\n.\r\nMAIL FROM:<x@y>\r\n')).toBe('a\r\n..\r\nMAIL FROM:<x@y>\r\n.\r\n');
		expect(stuffDots('a\r.\r\n')).toBe('a\r\n..\r\n.\r\n');
		expect(stuffDots('a\n\n.\n')).toBe('a\r\n\r\n..\r\n.\r\n');
		expect(stuffDots('a\r\r\n.b')).toBe('a\r\n\r\n..b\r\n.\r\n');
		expect(stuffDots('a\r')).toBe('a\r\n.\r\n');
		for (const message of ['x\n.\r\ny', 'x\r.\r\ny', '\n.\n', 'x\r\n.\r\n']) {
			const out = stuffDots(message);
			expect(out.slice(0, -3)).not.toMatch(/(?<!\r)\n|\r(?!\n)|\r\n\.\r\n/);
		}
	});
});
