/**
 * Issue 22, fewer round trips and a better SMTP citizen, against real smtp-server peers on
 * loopback that keep every chunk the client wrote (tests/worker/smtp-servers.ts): MAIL, RCPT
 * and DATA in one write when the server offers PIPELINING (RFC 2920) and one at a time when it
 * does not; RSET only after a transaction that did not end cleanly (RFC 5321 §4.1.1.5); QUIT
 * after a refusal; EHLO with the service address's domain (RFC 5321 §4.1.3); SIZE declared and
 * an oversized message refused before a byte of it is uploaded (RFC 1870); text parts with CRLF
 * line ends (RFC 2046 §4.1.1); and the answer to POST /outbound built from the row it wrote.
 */
import { env } from 'cloudflare:test';
import PostalMime from 'postal-mime';
import { describe, expect, it, vi } from 'vitest';
import { outboundRequestSchema, type OutboundItem } from '../../src/lib/schema/outbound';
import { findMailbox } from '../../worker/db/mailboxes';
import { findOutbound } from '../../worker/db/outbound';
import { createOutbound } from '../../worker/outbound/create';
import { consumeOutbound } from '../../worker/outbound/consumer';
import { servicesFrom } from '../../worker/services';
import { composeMessage } from '../../worker/mail/compose';
import type { SmtpLogin } from '../../worker/send/credentials';
import { openSender } from '../../worker/send/mailbox-sender';
import { runSmtpTest } from '../../worker/send/run-smtp-test';
import { QUEUE_TIMEOUTS } from '../../worker/send/timeouts';
import type { OutgoingMessage } from '../../worker/send/transport';
import { ehloNameFor, validEhloName } from '../../worker/smtp/ehlo-name';
import { replyEnd } from '../../worker/smtp/mailer-session';
import { messageSize } from '../../worker/smtp/message-size';
import { call, createIntegration, mailboxInput, unique } from './helpers';

const ports = JSON.parse(env.SMTP_TEST_PORTS) as Record<string, number>;
const USER = 'support@acme.test';
const PASSWORD = 'Corr3ct-h0rse-battery';
const EHLO = 'desk.acme.example';

vi.setConfig({ testTimeout: 30_000 });

interface Wire {
	server: string;
	connection: number;
	chunks: string[];
}

const login = (server: string) => async (): Promise<SmtpLogin> => ({
	ok: true,
	settings: { host: '127.0.0.1', port: ports[server]!, username: USER, encryption: 'none', credential: { kind: 'password', password: PASSWORD } },
	afterAuthRefused: async () => null
});

const senderTo = (server: string) => openSender({ login: login(server), timeouts: QUEUE_TIMEOUTS, allowPrivateHosts: true, ehloName: EHLO });

function compose(to: string, text = 'Thank you for writing; your order is on its way.') {
	return composeMessage({
		from: { name: 'Acme Support', address: USER },
		to: [to],
		cc: [],
		subject: 'Re: Order',
		text,
		attachments: [],
		messageId: `${unique('citizen')}@acme.test`,
		inReplyTo: null,
		references: [],
		date: new Date()
	}).raw;
}

/** The one connection whose client chunks mention `marker` (a recipient unique to the test). */
async function wireOf(marker: string): Promise<Wire> {
	const response = await fetch(`http://127.0.0.1:${ports.control}/wire`);
	const matches = ((await response.json()) as Wire[]).filter((wire) => wire.chunks.some((chunk) => chunk.includes(marker)));
	expect(matches).toHaveLength(1);
	return matches[0]!;
}

/** The chunks from the first MAIL FROM on: the transactions, without the opening. */
function afterLogin(wire: Wire): string[] {
	return wire.chunks.slice(wire.chunks.findIndex((chunk) => chunk.startsWith('MAIL FROM:')));
}

const group = (from: string, to: string, size?: number) => `MAIL FROM:<${from}>${size === undefined ? '' : ` SIZE=${size}`}\r\nRCPT TO:<${to}>\r\nDATA\r\n`;
/** What the client writes after a 354: the message, dot-stuffed, and the final dot. */
const data = (raw: string) => `${raw.replace(/\r\n\./g, '\r\n..')}.\r\n`;

describe('PIPELINING (RFC 2920): fewer round trips on a reused session', () => {
	it('sends MAIL, RCPT and DATA in one write and the message in a second: two waits a message, no RSET between clean transactions', async () => {
		const to = [1, 2, 3].map((n) => `${unique(`p${n}`)}@customer.example`);
		const raws = to.map((address) => compose(address));
		const sender = senderTo('pipelined');
		for (const [i, address] of to.entries()) {
			const outcome = await sender.send({ from: USER, recipients: [address], raw: raws[i]! });
			expect(outcome, JSON.stringify(outcome)).toMatchObject({ ok: true, code: 250, accepted: [address] });
		}
		await sender.close();
		const wire = await wireOf(to[0]!);
		expect(wire.chunks[0]).toBe(`EHLO ${EHLO}\r\n`);
		// SIZE (RFC 1870 §6) declares each message's bytes; the peer offers it.
		expect(afterLogin(wire)).toEqual([
			group(USER, to[0]!, messageSize(raws[0]!)),
			data(raws[0]!),
			group(USER, to[1]!, messageSize(raws[1]!)),
			data(raws[1]!),
			group(USER, to[2]!, messageSize(raws[2]!)),
			data(raws[2]!),
			'QUIT\r\n'
		]);
		expect(messageSize(raws[0]!)).toBe(new TextEncoder().encode(raws[0]!).byteLength);
	});

	it('without PIPELINING offered, one command at a time, as before', async () => {
		const to = [1, 2].map((n) => `${unique(`u${n}`)}@customer.example`);
		const raws = to.map((address) => compose(address));
		const sender = senderTo('unpipelined');
		for (const [i, address] of to.entries()) expect((await sender.send({ from: USER, recipients: [address], raw: raws[i]! })).ok).toBe(true);
		await sender.close();
		expect(afterLogin(await wireOf(to[0]!))).toEqual([
			`MAIL FROM:<${USER}>\r\n`, `RCPT TO:<${to[0]}>\r\n`, 'DATA\r\n', data(raws[0]!),
			`MAIL FROM:<${USER}>\r\n`, `RCPT TO:<${to[1]}>\r\n`, 'DATA\r\n', data(raws[1]!),
			'QUIT\r\n'
		]);
	});

	it('reads every reply of a refused group: a refused MAIL (503s after it), all recipients refused, one refused among others; RSET only after the refusals, and the session goes on', async () => {
		const ok = [1, 2, 3].map((n) => `${unique(`ok${n}`)}@customer.example`);
		const gone = `${unique('gone')}@refused.example`;
		const blocked = `${unique('sender')}@blocked.example`;
		const sender = senderTo('pipelined');
		const send = (from: string, recipients: string[]) => sender.send({ from, recipients, raw: compose(recipients[0]!) });

		expect((await send(USER, [ok[0]!])).ok).toBe(true);
		const mailRefused = await send(blocked, [ok[1]!]);
		expect(mailRefused).toMatchObject({ ok: false, attempt: { stage: 'mail', code: 553, temporary: false, mayHaveArrived: false } });
		// The replies to the rest of the group were read (and shown), so the next transaction's replies are its own.
		const lines = mailRefused.ok ? [] : mailRefused.attempt.transcript;
		expect(lines.filter((line) => /^S: 503/.test(line))).toHaveLength(2);
		expect(await send(USER, [ok[1]!])).toMatchObject({ ok: true, accepted: [ok[1]] });
		expect(await send(USER, [gone])).toMatchObject({ ok: false, attempt: { stage: 'rcpt', code: 550, enhancedCode: '5.1.1' } });
		const some = await send(USER, [gone, ok[2]!]);
		expect(some).toMatchObject({ ok: true, accepted: [ok[2]], refused: [{ address: gone, code: 550 }] });
		await sender.close();

		const commands = afterLogin(await wireOf(ok[0]!)).map((chunk) => (/^(MAIL|RSET|QUIT)/.test(chunk) ? chunk.split('\r\n')[0]!.replace(/ SIZE=\d+/, '') : 'data'));
		expect(commands).toEqual([
			`MAIL FROM:<${USER}>`, 'data',
			`MAIL FROM:<${blocked}>`, 'RSET',
			`MAIL FROM:<${USER}>`, 'data',
			`MAIL FROM:<${USER}>`, 'RSET',
			`MAIL FROM:<${USER}>`, 'data',
			'QUIT'
		]);
	});

	it('says QUIT after a refused transaction instead of dropping the connection (the SMTP test too)', async () => {
		const gone = `${unique('nobody')}@refused.example`;
		const result = await runSmtpTest({ login: login('pipelined'), from: { email: USER }, to: gone, allowPrivateHosts: true, ehloName: EHLO });
		expect(result).toMatchObject({ ok: false, stage: 'rcpt', code: 550 });
		// The result's transcript ends with the refusal; the goodbye comes after it.
		expect(result.transcript.at(-1)).toMatch(/^S: 354|^S: 503|^S: 554/);
		const chunks = afterLogin(await wireOf(gone));
		expect(chunks.at(-1)).toBe('QUIT\r\n');
		expect(chunks).toHaveLength(2);
	});

	it('reads one whole reply at a time from what the socket brought', () => {
		expect(replyEnd('250 OK\r\n354 go ahead\r\n')).toBe(8);
		expect(replyEnd('250-first\r\n250-second\r\n250 last\r\n503 next\r\n')).toBe(33);
		expect(replyEnd('250-first\r\n250 la')).toBe(-1);
		expect(replyEnd('')).toBe(-1);
		expect(replyEnd('220\r\n')).toBe(5);
	});
});

describe('RFC 2920 §3.1: the next message behind the data of the one before', () => {
	// The peers answer the data of mail to slow-data.example 300 ms late (smtp-servers.ts): whatever
	// the client writes before that reply, it wrote without waiting for it.
	const slowTo = (n: number) => [1, 2, 3].slice(0, n).map((i) => `${unique(`ride${i}`)}@slow-data.example`);
	const chained = (to: string[]): OutgoingMessage[] => {
		const messages: OutgoingMessage[] = to.map((address) => ({ from: USER, recipients: [address], raw: compose(address) }));
		messages.forEach((message, i) => {
			const next = messages[i + 1];
			if (next) message.following = async () => next;
		});
		return messages;
	};
	/** Where a client line is in the session's transcript, and where the server's n-th "queued" reply is. */
	const at = (lines: readonly string[], line: string) => lines.indexOf(line);
	const queuedReply = (lines: readonly string[], n: number) => lines.map((line, i) => (/^S: 250 .*queued/i.test(line) ? i : -1)).filter((i) => i >= 0)[n]!;

	it("writes the next message's MAIL, RCPT and DATA before the data's reply is read; each message arrives once, no RSET", async () => {
		const to = slowTo(3);
		const messages = chained(to);
		const sender = senderTo('pipelined');
		for (const message of messages) expect(await sender.send(message)).toMatchObject({ ok: true, accepted: message.recipients });
		const lines = [...sender.transcript];
		await sender.close();
		expect(at(lines, `C: RCPT TO:<${to[1]}>`)).toBeGreaterThan(0);
		expect(at(lines, `C: RCPT TO:<${to[1]}>`)).toBeLessThan(queuedReply(lines, 0));
		expect(at(lines, `C: RCPT TO:<${to[2]}>`)).toBeLessThan(queuedReply(lines, 1));
		const wire = await wireOf(to[0]!);
		expect(afterLogin(wire).join('')).toBe(
			messages.map((message) => group(USER, message.recipients[0]!, messageSize(message.raw)) + data(message.raw)).join('') + 'QUIT\r\n'
		);
		const arrived = (await (await fetch(`http://127.0.0.1:${ports.control}/received`)).json()) as Array<{ to: string[] }>;
		for (const address of to) expect(arrived.filter((mail) => mail.to.includes(address))).toHaveLength(1);
	});

	it('a message begun that is not sent next is never delivered: the connection is dropped, not ended with a line the server would take as its text', async () => {
		const [first, skipped] = chained(slowTo(2));
		const other = `${unique('other')}@customer.example`;
		const sender = senderTo('pipelined');
		expect((await sender.send(first!)).ok).toBe(true);
		expect(await sender.send({ from: USER, recipients: [other], raw: compose(other) })).toMatchObject({ ok: true, accepted: [other] });
		await sender.close();
		const begun = await wireOf(skipped!.recipients[0]!);
		expect(afterLogin(begun).join('')).toMatch(new RegExp(`RCPT TO:<${skipped!.recipients[0]!.replace(/[.+]/g, '\\$&')}>\r\nDATA\r\n$`));
		expect((await wireOf(other)).connection).not.toBe(begun.connection);
		const arrived = (await (await fetch(`http://127.0.0.1:${ports.control}/received`)).json()) as Array<{ to: string[] }>;
		expect(arrived.some((mail) => mail.to.includes(skipped!.recipients[0]!))).toBe(false);
	});

	it("the reply consumer does it with a batch: each reply's group behind the data of the reply before it, one session, one attempt each", async () => {
		const integration = await createIntegration();
		const created = await call('POST', '/api/mailboxes', {
			body: mailboxInput(integration.id, { smtp: { host: '127.0.0.1', port: ports.pipelined, username: USER, password: PASSWORD, encryption: 'none' } })
		});
		expect(created.status, created.text).toBe(201);
		const mailbox = (await findMailbox(env.DB, (created.body as { id: string }).id))!;
		// The test is the queue: the Worker's own consumer must not take these replies too.
		const services = { ...servicesFrom(env), queues: { ...servicesFrom(env).queues, replies: { send: async () => {}, sendBatch: async () => {} } as unknown as Queue } };
		const to = slowTo(3);
		const start = Date.now();
		const ids: string[] = [];
		for (const [i, address] of to.entries()) {
			const request = outboundRequestSchema.parse({ to: [address], subject: `Ride ${i}`, text: `Reply number ${i}.` });
			const made = await createOutbound(services, { mailbox, request, now: new Date(start + i) });
			if (!made.ok) throw new Error(JSON.stringify(made));
			ids.push(made.outbound.id);
		}
		const answers: string[] = [];
		await consumeOutbound(ids.map((id) => ({ body: { id }, ack: () => answers.push('ack'), retry: () => answers.push('retry') })), services);
		expect(answers).toEqual(['ack', 'ack', 'ack']);
		const stored = await Promise.all(ids.map(async (id) => (await findOutbound(env.DB, id))!));
		for (const reply of stored) expect({ status: reply.status, attempts: reply.attempts.length }).toEqual({ status: 'sent', attempts: 1 });
		const [first, second] = stored.map((reply) => reply.attempts[0]!.transcript ?? []);
		expect(at(first!, `C: RCPT TO:<${to[1]}>`)).toBeGreaterThanOrEqual(0);
		expect(at(first!, `C: RCPT TO:<${to[1]}>`)).toBeLessThan(queuedReply(first!, 0));
		// Its dialogue starts at its commands, before the reply to the data before it (the first "queued").
		expect(at(second!, `C: RCPT TO:<${to[2]}>`)).toBeLessThan(queuedReply(second!, 1));
		// Each attempt's dialogue starts with its own commands, though they went out behind the reply before.
		expect(second!.slice(0, 2)).toEqual([expect.stringMatching(/^C: MAIL FROM:<[^>]+> SIZE=\d+$/), `C: RCPT TO:<${to[1]}>`]);
		expect((await wireOf(to[2]!)).connection).toBe((await wireOf(to[0]!)).connection);
	});
});

describe('RFC 5321 §4.5.3.1.10: recipients over the server\'s limit for one transaction', () => {
	it('go in the next transactions on the same session, each with the message, until every one is accepted', async () => {
		const to = [1, 2, 3, 4, 5].map((n) => `${unique(`many${n}`)}@customer.example`);
		const gone = `${unique('gone')}@refused.example`;
		const raw = compose(to[0]!);
		const following = compose(`${unique('after')}@customer.example`);
		const sender = senderTo('twoRecipients');
		const first: OutgoingMessage = { from: USER, recipients: [...to.slice(0, 2), gone, ...to.slice(2)], raw };
		const next: OutgoingMessage = { from: USER, recipients: [`${unique('next')}@customer.example`], raw: following };
		first.following = async () => next;
		const outcome = await sender.send(first);
		expect(outcome).toMatchObject({ ok: true, accepted: to, refused: [{ address: gone, code: 550 }] });
		// The next message is not begun behind a transaction that leaves recipients for another.
		expect(await sender.send(next)).toMatchObject({ ok: true });
		await sender.close();
		const groups = afterLogin(await wireOf(to[0]!))
			.join('')
			.split(/(?=MAIL FROM:)/)
			.map((group) => [...group.matchAll(/RCPT TO:<([^>]+)>/g)].map((match) => match[1]));
		expect(groups).toEqual([[to[0], to[1], gone, to[2], to[3], to[4]], [to[2], to[3], to[4]], [to[4]], next.recipients]);
		const arrived = (await (await fetch(`http://127.0.0.1:${ports.control}/received`)).json()) as Array<{ to: string[]; data: string }>;
		for (const address of to) expect(arrived.filter((mail) => mail.to.includes(address))).toHaveLength(1);
	});
});

describe('SIZE (RFC 1870): an oversized message is refused before it is uploaded', () => {
	it('refuses it as rejected with both sizes, without MAIL FROM; the session sends the next one, declaring its size', async () => {
		const big = `${unique('big')}@customer.example`;
		const fits = `${unique('fits')}@customer.example`;
		const sender = senderTo('small');
		const raw = compose(big, 'A long answer. '.repeat(400));
		const refused = await sender.send({ from: USER, recipients: [big], raw });
		expect(refused).toMatchObject({ ok: false, attempt: { stage: 'mail', category: 'rejected', temporary: false, mayHaveArrived: false } });
		const hint = refused.ok ? '' : refused.attempt.hint;
		const transcript = sender.transcript.join('\n');
		const limit = Number(/S: 250[ -]SIZE (\d+)/.exec(transcript)?.[1]);
		expect(limit).toBeGreaterThan(0);
		expect(hint).toContain(`(${messageSize(raw)} bytes)`);
		expect(hint).toContain(`(${limit} bytes, its SIZE)`);
		const small = compose(fits);
		expect(await sender.send({ from: USER, recipients: [fits], raw: small })).toMatchObject({ ok: true });
		await sender.close();
		const wire = await wireOf(fits);
		expect(wire.chunks.some((chunk) => chunk.includes(big))).toBe(false);
		expect(afterLogin(wire)).toEqual([group(USER, fits, messageSize(small)), data(small), 'QUIT\r\n']);
	});
});

describe('EHLO (RFC 5321 §4.1.3): a name, not a bare address', () => {
	it('a reply greets with its mailbox address\'s domain', async () => {
		const integration = await createIntegration();
		const created = await call('POST', '/api/mailboxes', {
			body: mailboxInput(integration.id, { smtp: { host: '127.0.0.1', port: ports.pipelined, username: USER, password: PASSWORD, encryption: 'none' } })
		});
		expect(created.status, created.text).toBe(201);
		const mailbox = created.body as { id: string; address: string };
		const to = `${unique('ehlo')}@customer.example`;
		const answer = await call<OutboundItem>('POST', `/api/mailboxes/${mailbox.id}/outbound`, { body: { to: [to], subject: 'Hello', text: 'Hi' } });
		expect(answer.status, answer.text).toBe(202);
		const deadline = Date.now() + 20_000;
		while ((await call<OutboundItem>('GET', `/api/outbound/${answer.body.id}`)).body.status !== 'sent') {
			expect(Date.now()).toBeLessThan(deadline);
			await new Promise((resolve) => setTimeout(resolve, 200));
		}
		expect((await wireOf(to)).chunks[0]).toBe(`EHLO ${mailbox.address.split('@')[1]}\r\n`);
	});

	it.each([
		['SMTP_EHLO_NAME wins', 'mx.acme.example', 'desk@acme.example', 'mx.acme.example'],
		['the service address\'s domain', '', 'desk@Support.Acme.Example.', 'Support.Acme.Example'],
		['an internationalised domain as A-labels', '', 'desk@bücher.example', 'xn--bcher-kva.example'],
		['no usable domain: the address literal', '', 'desk@under_score.example', '[127.0.0.1]']
	])('%s', (_name, configured, address, name) => {
		expect(ehloNameFor(configured, address)).toBe(name);
	});

	it('keeps a configured name only if it is a domain or an address literal', () => {
		expect(validEhloName(' mx.acme.example. ')).toBe('mx.acme.example');
		expect(validEhloName('[192.0.2.1]')).toBe('[192.0.2.1]');
		expect(validEhloName('[IPv6:2001:db8::1]')).toBe('[IPv6:2001:db8::1]');
		for (const bad of ['127.0.0.1 x', 'mail server', '-bad.example', 'a..b', '']) expect(validEhloName(bad), bad).toBe('');
	});
});

describe('composed text parts (RFC 2046 §4.1.1, RFC 2045 §6)', () => {
	const composed = (text: string, html?: string) =>
		composeMessage({
			from: { name: '', address: USER },
			to: ['a@customer.example'],
			cc: [],
			subject: 'Lines',
			text,
			html,
			attachments: [],
			messageId: `${unique('crlf')}@acme.test`,
			inReplyTo: null,
			references: [],
			date: new Date()
		}).raw;
	/** A part's Content-Transfer-Encoding and its body as it travels. */
	const part = (raw: string, type: string) => {
		const found = new RegExp(`Content-Type: ${type}; charset=UTF-8\\r\\nContent-Transfer-Encoding: ([\\w-]+)\\r\\n\\r\\n([^]*?)\\r\\n(?:\\r\\n--|$)`).exec(raw);
		return { encoding: found?.[1], body: found?.[2] ?? '' };
	};
	const everyLine = (raw: string) => raw.split('\r\n');

	it('end every line with CRLF, whatever the help desk sent; ASCII text travels as it is (7bit)', async () => {
		const raw = composed('one\ntwo\r\nthree\rfour\n\nfive\n.\nsix', '<p>one</p>\n<p>two</p>');
		expect(part(raw, 'text/plain')).toEqual({ encoding: '7bit', body: 'one\r\ntwo\r\nthree\r\nfour\r\n\r\nfive\r\n.\r\nsix' });
		expect(part(raw, 'text/html')).toEqual({ encoding: '7bit', body: '<p>one</p>\r\n<p>two</p>' });
		expect(raw).not.toMatch(/\r(?!\n)|(?<!\r)\n/);
		expect((await PostalMime.parse(raw)).text?.trimEnd()).toBe('one\ntwo\nthree\nfour\n\nfive\n.\nsix');
	});

	it('mostly Latin text as quoted-printable, other scripts as base64, a line over 998 characters never as it is; each reads back the same', async () => {
		const french = 'Bonjour, votre commande est partie aujourd’hui ; le numéro de suivi arrive bientôt. '.repeat(40).trim();
		const japanese = '日本語のお問い合わせありがとうございます。'.repeat(20);
		const long = 'word '.repeat(400).trim();
		for (const [text, encoding] of [
			[french, 'quoted-printable'],
			[japanese, 'base64'],
			[long, 'quoted-printable']
		] as const) {
			const raw = composed(text);
			expect(part(raw, 'text/plain').encoding, text.slice(0, 20)).toBe(encoding);
			// RFC 2045 §6.7-6.8: no encoded line over 76; RFC 5322 §2.1.1: none over 998 anywhere.
			expect(Math.max(...everyLine(part(raw, 'text/plain').body).map((line) => line.length))).toBeLessThanOrEqual(76);
			expect(Math.max(...everyLine(raw).map((line) => line.length))).toBeLessThanOrEqual(998);
			expect((await PostalMime.parse(raw)).text?.trimEnd()).toBe(text);
		}
		// The smaller of the two: quoted-printable for French is smaller than base64 would be; base64 for Japanese than quoted-printable.
		expect(part(composed(french), 'text/plain').body.length).toBeLessThan((new TextEncoder().encode(french).length * 4) / 3);
		expect(part(composed(japanese), 'text/plain').body.length).toBeLessThan(new TextEncoder().encode(japanese).length * 3);
	});
});

describe('POST /api/mailboxes/:id/outbound', () => {
	it('answers with the row as written, the same item a GET reads back', async () => {
		const integration = await createIntegration();
		const created = await call('POST', '/api/mailboxes', {
			body: mailboxInput(integration.id, { smtp: { host: '127.0.0.1', port: ports.pipelined, username: USER, password: PASSWORD, encryption: 'none' } })
		});
		const mailbox = created.body as { id: string };
		const answer = await call<OutboundItem>('POST', `/api/mailboxes/${mailbox.id}/outbound`, {
			body: { to: [`${unique('item')}@customer.example`], cc: ['cc@customer.example'], bcc: ['bcc@acme.example'], subject: 'Item', text: 'Hi', metadata: { ticket: 'T-22' } }
		});
		expect(answer.status, answer.text).toBe(202);
		const read = await call<OutboundItem>('GET', `/api/outbound/${answer.body.id}`);
		// The consumer may have started on it already: what it changes is left out.
		const { status, attempts, sentAt, nextAttemptAt, ...written } = answer.body;
		expect({ status, attempts, sentAt, nextAttemptAt }).toEqual({ status: 'queued', attempts: [], sentAt: null, nextAttemptAt: null });
		expect(read.body).toMatchObject(written);
		expect(Object.keys(answer.body).sort()).toEqual(Object.keys(read.body).filter((key) => !['text', 'html', 'headers', 'attachments'].includes(key)).sort());
	});
});
