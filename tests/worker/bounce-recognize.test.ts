/// <reference types="vite/client" />
/** recognizeBounce() over the bounce fixtures, and bounceHint() per status (SPEC §10 "Bounces"). */
import PostalMime from 'postal-mime';
import { describe, expect, it } from 'vitest';
import { bounceHint, recognizeBounce, type BounceReport } from '../../worker/inbound/bounce';
import { judgeBounce, MAX_UNVERIFIED_RECIPIENTS, MAX_UNVERIFIED_TEXT, unverifiedReport } from '../../worker/outbound/judge-bounce';

const bounceFixtures = import.meta.glob<string>('../fixtures/bounces/*.eml', { query: '?raw', import: 'default', eager: true });
const ordinaryFixtures = import.meta.glob<string>('../fixtures/email/*.eml', { query: '?raw', import: 'default', eager: true });

const fixture = (file: string) => bounceFixtures[`../fixtures/bounces/${file}`]!;

async function recognize(raw: string, envelopeFrom: string) {
	// The email() handler parses this way.
	const parsed = await PostalMime.parse(raw, { rfc822Attachments: true });
	return recognizeBounce({ raw: new TextEncoder().encode(raw), parsed, envelopeFrom });
}

interface ExpectedRecipient {
	finalRecipient: string;
	/** Written only by Postfix among the fixtures. */
	originalRecipient?: string;
	action: string;
	status: string | null;
	diagnosticCode: string | null;
	remoteMta: string | null;
	/** Key words the hint must contain. */
	hint: RegExp;
}

interface BounceCase {
	file: string;
	envelopeFrom: string;
	format: 'dsn' | 'plain';
	reportingMta: string | null;
	/** The report's own In-Reply-To and References, nearest first, apart from the returned message's id. */
	threadIds?: string[];
	recipients: ExpectedRecipient[];
	delayOnly: boolean;
}

const NO_MAILBOX = /^No such mailbox: .*Check the address/;
const NULL_SENDER = '';

const bounces: BounceCase[] = [
	{
		file: 'postfix-dsn.eml',
		envelopeFrom: NULL_SENDER,
		format: 'dsn',
		reportingMta: 'smtp.acme.example.com',
		recipients: [
			{
				finalRecipient: 'nobody@example.org',
				originalRecipient: 'nobody@example.org',
				action: 'failed',
				status: '5.1.1',
				diagnosticCode: '550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown in virtual mailbox table',
				remoteMta: 'mx1.example.org',
				hint: NO_MAILBOX
			}
		],
		delayOnly: false
	},
	{
		file: 'postfix-delayed.eml',
		envelopeFrom: NULL_SENDER,
		format: 'dsn',
		reportingMta: 'smtp.acme.example.com',
		recipients: [
			{
				finalRecipient: 'carol@slow.example.net',
				originalRecipient: 'carol@slow.example.net',
				action: 'delayed',
				status: '4.4.1',
				diagnosticCode: 'connect to mx.slow.example.net[198.51.100.7]:25: Connection timed out',
				remoteMta: null,
				hint: /^Temporary failure: the remote server is still trying.*Reason given: the recipient's mail server could not be found or reached\.$/
			}
		],
		delayOnly: true
	},
	{
		file: 'postfix-headers-only.eml',
		envelopeFrom: NULL_SENDER,
		format: 'dsn',
		reportingMta: 'smtp.acme.example.com',
		recipients: [
			{
				finalRecipient: 'dana.customer@gmail.com',
				originalRecipient: 'dana.customer@gmail.com',
				action: 'failed',
				status: '5.7.26',
				diagnosticCode:
					"550-5.7.26 Unauthenticated email from acme.example.com is not accepted due to 550-5.7.26 domain's DMARC policy. Please contact the administrator of 550-5.7.26 acme.example.com domain if this was a legitimate mail. To learn about 550 5.7.26 the DMARC initiative, go to https://support.google.com/mail/?p=DmarcRejection a640c23a62f3a-abf4f2b7c1esi12345676b.412 - gsmtp",
				remoteMta: 'gmail-smtp-in.l.google.com',
				hint: /^Refused for DMARC: .*SPF record.*DKIM/
			}
		],
		delayOnly: false
	},
	{
		file: 'postfix-legacy-plain.eml',
		envelopeFrom: NULL_SENDER,
		format: 'plain',
		reportingMta: 'mail.oldhost.example',
		recipients: [
			{
				finalRecipient: 'erin@gone.example',
				action: 'failed',
				status: null,
				diagnosticCode: 'Host or domain name not found. Name service error for name=gone.example type=MX: Host not found',
				remoteMta: null,
				hint: /^Routing or DNS problem: .*MX records/
			}
		],
		delayOnly: false
	},
	{
		file: 'sendmail-dsn.eml',
		envelopeFrom: NULL_SENDER,
		format: 'dsn',
		reportingMta: 'mail.example.org',
		recipients: [
			{
				finalRecipient: 'frank@example.org',
				action: 'failed',
				status: '5.1.1',
				diagnosticCode: '550 5.1.1 <frank@example.org>... User unknown',
				remoteMta: 'mx.example.org',
				hint: NO_MAILBOX
			}
		],
		delayOnly: false
	},
	{
		file: 'sendmail-legacy-plain.eml',
		envelopeFrom: NULL_SENDER,
		format: 'plain',
		reportingMta: null,
		recipients: [
			{
				finalRecipient: 'sam@legacy.example',
				action: 'failed',
				status: '5.1.1',
				diagnosticCode: '550 5.1.1 <sam@legacy.example>... User unknown',
				remoteMta: 'mx.legacy.example',
				hint: NO_MAILBOX
			}
		],
		delayOnly: false
	},
	{
		file: 'multi-recipient.eml',
		envelopeFrom: NULL_SENDER,
		format: 'dsn',
		reportingMta: 'mail.example.org',
		recipients: [
			{
				finalRecipient: 'gina@example.org',
				action: 'failed',
				status: '5.2.2',
				diagnosticCode: '552 5.2.2 <gina@example.org>... Mailbox full',
				remoteMta: 'mx.example.org',
				hint: /^Mailbox full: /
			},
			{
				finalRecipient: 'hank@partner.example',
				action: 'relayed',
				status: '2.0.0',
				diagnosticCode: '250 2.0.0 523A7Dqe004411 Message accepted for delivery',
				remoteMta: 'mx.partner.example',
				hint: /^Delivered .*nothing to do/
			}
		],
		delayOnly: false
	},
	{
		file: 'exim-dsn.eml',
		envelopeFrom: NULL_SENDER,
		format: 'dsn',
		reportingMta: 'mail.example.net',
		recipients: [
			{
				finalRecipient: 'ivan@example.net',
				action: 'failed',
				// Exim's own generic status; the hint reads the remote's 5.7.1 and its words.
				status: '5.0.0',
				diagnosticCode: '550 5.7.1 Service unavailable; client [203.0.113.10] blocked using zen.spamhaus.org',
				remoteMta: 'mx.example.net',
				hint: /block list.*delisting/
			}
		],
		delayOnly: false
	},
	{
		file: 'exim-plain.eml',
		envelopeFrom: NULL_SENDER,
		format: 'plain',
		reportingMta: null,
		recipients: [
			{
				finalRecipient: 'judy@example.net',
				action: 'failed',
				status: '5.2.2',
				diagnosticCode: '552 5.2.2 <judy@example.net>: Mailbox full',
				remoteMta: 'mx.example.net',
				hint: /^Mailbox full: /
			}
		],
		delayOnly: false
	},
	{
		file: 'exim-delay-plain.eml',
		envelopeFrom: NULL_SENDER,
		format: 'plain',
		reportingMta: 'mail.example.net',
		recipients: [
			{
				finalRecipient: 'kim@busy.example.net',
				action: 'delayed',
				status: '4.2.2',
				diagnosticCode: '452 4.2.2 <kim@busy.example.net>: Mailbox temporarily over quota',
				remoteMta: 'mx.busy.example.net',
				hint: /^Temporary failure: .*still trying.*Reason given: mailbox full\.$/
			}
		],
		delayOnly: true
	},
	{
		file: 'exchange-online-ndr.eml',
		envelopeFrom: NULL_SENDER,
		format: 'dsn',
		reportingMta: 'BN8PR12MB1234.namprd12.prod.outlook.com',
		// In-Reply-To repeats the returned id; References adds the thread's earlier message, apart.
		threadIds: ['CAF=customer-1042@mail.customer.example'],
		recipients: [
			{
				finalRecipient: 'lee@contoso.com',
				action: 'failed',
				status: '5.1.10',
				diagnosticCode: '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient lee@contoso.com not found by SMTP address lookup',
				remoteMta: 'BN8PR12MB1234.namprd12.prod.outlook.com',
				hint: NO_MAILBOX
			}
		],
		delayOnly: false
	},
	{
		file: 'exchange-legacy-plain.eml',
		envelopeFrom: NULL_SENDER,
		format: 'plain',
		reportingMta: 'EXCH01.fabrikam.local',
		recipients: [
			{
				finalRecipient: 'mona@fabrikam.example',
				action: 'failed',
				status: '5.1.1',
				diagnosticCode: '550 5.1.1 RESOLVER.ADR.RecipNotFound; not found',
				remoteMta: null,
				hint: NO_MAILBOX
			}
		],
		delayOnly: false
	},
	{
		file: 'gmail-dsn.eml',
		envelopeFrom: NULL_SENDER,
		format: 'dsn',
		reportingMta: 'googlemail.com',
		recipients: [
			{
				finalRecipient: 'nora@example.com',
				action: 'failed',
				status: '5.1.1',
				diagnosticCode: '550 5.1.1 <nora@example.com>: Recipient address rejected: User unknown in local recipient table',
				// Gmail's "(192.0.2.50, the server for the domain example.com.)" comment and root dot dropped.
				remoteMta: 'mx.example.com',
				hint: NO_MAILBOX
			}
		],
		delayOnly: false
	},
	{
		file: 'gmail-legacy-plain.eml',
		envelopeFrom: NULL_SENDER,
		format: 'plain',
		reportingMta: null,
		recipients: [
			{
				finalRecipient: 'olga@example.com',
				action: 'failed',
				status: '5.1.1',
				diagnosticCode: '550 5.1.1 <olga@example.com>: Recipient address rejected: User unknown in local recipient table',
				remoteMta: 'mx.example.com',
				hint: NO_MAILBOX
			}
		],
		delayOnly: false
	},
	{
		file: 'amazon-ses-dsn.eml',
		envelopeFrom: NULL_SENDER,
		format: 'dsn',
		reportingMta: 'a27-30.smtp-out.us-west-2.amazonses.com',
		recipients: [
			{
				finalRecipient: 'paul@example.com',
				action: 'failed',
				status: '5.3.4',
				diagnosticCode: '552 5.3.4 Error: message file too big',
				remoteMta: null,
				hint: /too large.*smaller or fewer attachments/
			}
		],
		delayOnly: false
	},
	{
		file: 'qmail.eml',
		envelopeFrom: NULL_SENDER,
		format: 'plain',
		reportingMta: 'mail.example.info',
		recipients: [
			{
				finalRecipient: 'quinn@example.info',
				action: 'failed',
				status: '5.1.1',
				diagnosticCode: '550 5.1.1 <quinn@example.info>: Recipient address rejected: User unknown in virtual mailbox table',
				remoteMta: '192.0.2.60',
				hint: NO_MAILBOX
			}
		],
		delayOnly: false
	},
	{
		file: 'yahoo-plain.eml',
		envelopeFrom: NULL_SENDER,
		format: 'plain',
		reportingMta: null,
		recipients: [
			{
				finalRecipient: 'rachel@yahoo.com',
				action: 'failed',
				status: null,
				diagnosticCode: "554: delivery error: dd This user doesn't have a yahoo.com account (rachel@yahoo.com) [0] - mta1234.mail.ne1.yahoo.com",
				remoteMta: null,
				hint: NO_MAILBOX
			}
		],
		delayOnly: false
	}
];

/** Not bounces, with the envelope sender each would arrive with. */
const notBounces: ReadonlyArray<{ file: string; envelopeFrom: string }> = [
	{ file: 'not-bounce-forwarded-bounce.eml', envelopeFrom: 'tom@acme.example.com' },
	{ file: 'not-bounce-forward-attached.eml', envelopeFrom: 'tom@acme.example.com' },
	// RFC 3834 §3.3 lets an auto-reply use the null sender, like a bounce.
	{ file: 'not-bounce-out-of-office.eml', envelopeFrom: NULL_SENDER },
	{ file: 'not-bounce-mentions-undeliverable.eml', envelopeFrom: 'victor@customer.example' },
	{ file: 'not-bounce-read-receipt.eml', envelopeFrom: 'wendy@customer.example' }
];

describe('recognizeBounce() over the bounce fixtures', () => {
	it('covers every fixture', () => {
		const files = Object.keys(bounceFixtures).map((path) => path.split('/').pop());
		expect(files.sort()).toEqual([...bounces.map((c) => c.file), ...notBounces.map((c) => c.file)].sort());
	});

	it.each(bounces.map((c) => [c.file, c] as const))('%s', async (_name, c) => {
		const report = await recognize(fixture(c.file), c.envelopeFrom);
		const returnedId = `${c.file.replace(/\.eml$/, '')}.outbound@acme.example.com`;
		expect(report).toEqual({
			format: c.format,
			reportingMta: c.reportingMta,
			returnedMessageIds: [returnedId],
			threadMessageIds: c.threadIds ?? [],
			recipients: c.recipients.map((r) => ({ ...r, originalRecipient: r.originalRecipient ?? null, hint: expect.stringMatching(r.hint) })),
			delayOnly: c.delayOnly
		});
	});

	it.each(notBounces.map((c) => [c.file, c] as const))('%s is not a bounce', async (_name, c) => {
		expect(await recognize(fixture(c.file), c.envelopeFrom)).toBeNull();
	});

	it.each(Object.entries(ordinaryFixtures).map(([path, raw]) => [path.split('/').pop()!, raw] as const))('ordinary mail %s is not a bounce, even from the null sender', async (_name, raw) => {
		expect(await recognize(raw, 'someone@customer.example')).toBeNull();
		expect(await recognize(raw, NULL_SENDER)).toBeNull();
	});
});

describe('what recognition rests on', () => {
	it('postal-mime lists a report part and the returned message as attachments', async () => {
		const parsed = await PostalMime.parse(fixture('postfix-dsn.eml'), { rfc822Attachments: true });
		expect(parsed.attachments.map((a) => a.mimeType)).toEqual(['message/delivery-status', 'message/rfc822']);
		const headersOnly = await PostalMime.parse(fixture('postfix-delayed.eml'), { rfc822Attachments: true });
		expect(headersOnly.attachments.map((a) => a.mimeType)).toEqual(['message/delivery-status', 'text/rfc822-headers']);
	});

	it('a plain notice needs a mailer: the same qmail text from a person is not a bounce', async () => {
		const fromPerson = fixture('qmail.eml').replace('From: MAILER-DAEMON@mail.example.info', 'From: Pat <pat@example.info>');
		expect(await recognize(fromPerson, 'pat@example.info')).toBeNull();
		// Control: the null envelope sender alone makes it a mailer's.
		expect((await recognize(fromPerson, '<>'))?.format).toBe('plain');
	});

	it("a plain notice needs the returned message's Message-ID", async () => {
		const raw = fixture('qmail.eml');
		const withoutCopy = raw.slice(0, raw.indexOf('--- Below this line is a copy of the message.'));
		expect(await recognize(withoutCopy, NULL_SENDER)).toBeNull();
		expect(await recognize(raw, NULL_SENDER)).not.toBeNull();
	});

	it('a plain notice needs bounce wording: a mailer sending anything else is not a bounce', async () => {
		const notice = fixture('qmail.eml')
			.replace('Subject: failure notice', 'Subject: Your mailbox report')
			.replace(/Hi\. This is the qmail-send program[\s\S]*?Sorry it didn't work out\./, 'Your weekly mailbox report is below.');
		expect(await recognize(notice, NULL_SENDER)).toBeNull();
	});

	it('finds the returned headers of an inline message/rfc822 in the raw bytes', async () => {
		// Content-Disposition: inline makes postal-mime parse the returned message into the text.
		const raw = fixture('exchange-legacy-plain.eml')
			.replace('Original message headers:', 'Header summary:')
			.replace(/Message-ID: <exchange-legacy-plain\.outbound@acme\.example\.com>\r\nMIME-Version: 1\.0\r\nContent-Type: text\/plain; charset=utf-8\r\n\r\n--_000_/, 'MIME-Version: 1.0\r\n\r\n--_000_')
			.replace('Content-Type: message/rfc822\r\n', 'Content-Type: message/rfc822\r\nContent-Disposition: inline\r\n');
		const parsed = await PostalMime.parse(raw, { rfc822Attachments: true });
		expect(parsed.attachments.filter((a) => a.mimeType === 'message/rfc822')).toHaveLength(0);
		expect(parsed.text).not.toMatch(/^Message-ID:/m);
		expect((await recognize(raw, NULL_SENDER))?.returnedMessageIds).toEqual(['exchange-legacy-plain.outbound@acme.example.com']);
	});

	const reportOnly = (extraHeaders: string[], perMessage: string[]) =>
		[
			'From: MAILER-DAEMON@mx.example.net (Mail Delivery System)',
			'To: support@acme.example.com',
			'Subject: Undelivered Mail Returned to Sender',
			'Message-ID: <own-id@mx.example.net>',
			...extraHeaders,
			'MIME-Version: 1.0',
			'Content-Type: multipart/report; report-type=delivery-status; boundary="b"',
			'',
			'--b',
			'Content-Type: text/plain',
			'',
			'Your message could not be delivered.',
			'',
			'--b',
			'Content-Type: message/delivery-status',
			'',
			'Reporting-MTA: dns; mx.example.net',
			...perMessage,
			'',
			'Original-Recipient: rfc822;alias@example.net',
			'Action: Failed',
			'Status: 5.1.1',
			'',
			'Final-Recipient: rfc822; <second@example.net>',
			'Action: delayed (still trying)',
			'Status: 4.4.7',
			'',
			'--b--',
			''
		].join('\r\n');

	it("without a returned part, Original-Message-ID names the returned message; the report's own In-Reply-To and References (nearest first) are kept apart", async () => {
		const raw = reportOnly(['In-Reply-To: <parent@acme.example.com>', 'References: <first@acme.example.com> <own-id@mx.example.net> <second@acme.example.com>'], ['Original-Message-ID: <original@acme.example.com>']);
		const report = await recognize(raw, NULL_SENDER);
		expect(report?.returnedMessageIds).toEqual(['original@acme.example.com']);
		expect(report?.threadMessageIds).toEqual(['parent@acme.example.com', 'second@acme.example.com', 'first@acme.example.com']);
		// Original-Recipient stands in for a missing Final-Recipient; Action is lower-cased to its keyword.
		expect(report?.recipients.map((r) => [r.finalRecipient, r.action, r.status])).toEqual([
			['alias@example.net', 'failed', '5.1.1'],
			['second@example.net', 'delayed', '4.4.7']
		]);
		expect(report?.delayOnly).toBe(false);
	});

	it('reads two recipients that share one field group (no blank line between them)', async () => {
		// Postfix's order (Final-Recipient before Original-Recipient): a repeated field starts the next recipient.
		const group = ['Final-Recipient: rfc822; one@example.net', 'Original-Recipient: rfc822;one@example.net', 'Action: failed', 'Status: 5.1.1'];
		const raw = reportOnly([], []).replace(
			/Original-Recipient: rfc822;alias@example\.net[\s\S]*?Status: 4\.4\.7/,
			[...group, ...group.map((line) => line.replace('one@', 'two@').replace('5.1.1', '5.2.2'))].join('\r\n')
		);
		expect((await recognize(raw, NULL_SENDER))?.recipients.map((r) => [r.finalRecipient, r.action, r.status])).toEqual([
			['one@example.net', 'failed', '5.1.1'],
			['two@example.net', 'failed', '5.2.2']
		]);
	});

	it('an RFC 3464 report with no candidate id is still a bounce (logged without a match)', async () => {
		const report = await recognize(reportOnly([], []), 'MAILER-DAEMON@mx.example.net');
		expect(report?.format).toBe('dsn');
		expect(report?.returnedMessageIds).toEqual([]);
		expect(report?.threadMessageIds).toEqual([]);
	});

	it('reads every id by the strict msg-id rule: an encoded word, a bare word or a CR/LF is no id', async () => {
		const raw = reportOnly(
			['Original-Message-ID: =?UTF-8?Q?<x@attacker.example>=0D=0AReply-To:_a@evil.example?=', 'In-Reply-To: <two words@acme.example.com>', 'References: <not an id> <ok@acme.example.com>'],
			['X-Original-Message-ID: not-bracketed but words']
		);
		const report = await recognize(raw, NULL_SENDER);
		expect(report?.returnedMessageIds).toEqual([]);
		expect(report?.threadMessageIds).toEqual(['ok@acme.example.com']);
	});

	it('a recipient without Action or status code fails by its 5xx reply, and only then', async () => {
		const raw = reportOnly([], []).replace(
			/Original-Recipient: rfc822;alias@example\.net[\s\S]*?Status: 4\.4\.7/,
			['Final-Recipient: rfc822; gone@example.net', 'Diagnostic-Code: smtp; 550 User unknown', '', 'Final-Recipient: rfc822; vague@example.net', 'Diagnostic-Code: x-unix; something'].join('\r\n')
		);
		const report = (await recognize(raw, NULL_SENDER))!;
		expect(report.recipients.map((r) => [r.finalRecipient, r.action])).toEqual([
			['gone@example.net', 'failed'],
			['vague@example.net', null]
		]);
	});
});

describe('judgeBounce(): what a report may change (issue 18)', () => {
	const reply = { to: ['Casey@Customer.example'], cc: ['robin@customer.example'], bcc: ['audit@acme.example.com'] };
	const recipient = (finalRecipient: string | null, action = 'failed', originalRecipient: string | null = null): BounceReport['recipients'][number] => ({
		finalRecipient,
		originalRecipient,
		action,
		status: action === 'delayed' ? '4.4.1' : '5.1.1',
		diagnosticCode: null,
		remoteMta: null,
		hint: 'h'
	});
	const report = (recipients: BounceReport['recipients']): BounceReport => ({
		format: 'dsn',
		reportingMta: 'mx.example.net',
		returnedMessageIds: ['r@acme.example.com'],
		threadMessageIds: [],
		recipients,
		delayOnly: recipients.length > 0 && recipients.every((r) => r.action === 'delayed')
	});

	it("applies only the reply's own recipients, each written as the reply has it, from To, Cc or Bcc", () => {
		const verdict = judgeBounce({
			report: report([recipient('casey@customer.example'), recipient('<ROBIN@customer.example>'), recipient('audit@acme.example.com'), recipient('x@elsewhere.example')]),
			reply,
			match: 'returned'
		});
		expect(verdict).toEqual({
			kind: 'bounced',
			failed: [
				expect.objectContaining({ finalRecipient: 'Casey@Customer.example' }),
				expect.objectContaining({ finalRecipient: 'robin@customer.example' }),
				expect.objectContaining({ finalRecipient: 'audit@acme.example.com' })
			],
			strangers: [expect.objectContaining({ finalRecipient: 'x@elsewhere.example' })]
		});
	});

	it('takes Original-Recipient, the address as we gave it, when the remote side aliased it', () => {
		const verdict = judgeBounce({ report: report([recipient('c.real@mail.customer.example', 'failed', 'casey@customer.example')]), reply, match: 'returned' });
		expect(verdict).toMatchObject({ kind: 'bounced', failed: [{ finalRecipient: 'Casey@Customer.example' }] });
	});

	it('a report found only by its own thread headers is unverified, whatever it says', () => {
		expect(judgeBounce({ report: report([recipient('casey@customer.example')]), reply, match: 'thread' })).toMatchObject({ kind: 'unverified', reason: 'thread-only' });
	});

	it('a report about strangers, or about nobody, is unverified', () => {
		expect(judgeBounce({ report: report([recipient('x@elsewhere.example')]), reply, match: 'returned' })).toMatchObject({ kind: 'unverified', reason: 'not-a-recipient' });
		expect(judgeBounce({ report: report([recipient(null)]), reply, match: 'returned' })).toMatchObject({ kind: 'unverified', reason: 'not-a-recipient' });
		expect(judgeBounce({ report: report([]), reply, match: 'returned' })).toEqual({ kind: 'unverified', reason: 'no-recipient', recipients: [] });
	});

	it("a delay notice warns only about the reply's recipients; a success report changes nothing", () => {
		expect(judgeBounce({ report: report([recipient('casey@customer.example', 'delayed'), recipient('x@elsewhere.example', 'delayed')]), reply, match: 'returned' })).toMatchObject({
			kind: 'delayed',
			delayed: [{ finalRecipient: 'Casey@Customer.example' }],
			strangers: [{ finalRecipient: 'x@elsewhere.example' }]
		});
		expect(judgeBounce({ report: report([recipient('x@elsewhere.example', 'delayed')]), reply, match: 'returned' })).toMatchObject({ kind: 'unverified', reason: 'not-a-recipient' });
		expect(judgeBounce({ report: report([recipient('casey@customer.example', 'delivered')]), reply, match: 'returned' })).toEqual({ kind: 'nothing' });
	});

	it("keeps an unverified report's words bounded", () => {
		const long = { ...recipient('x@elsewhere.example'), diagnosticCode: 'y'.repeat(10_000) };
		const kept = unverifiedReport({ report: report([]), reason: 'not-a-recipient', recipients: Array(50).fill(long), logId: 'log-1', at: '2026-12-07T10:00:00.000Z' });
		expect(kept.recipients).toHaveLength(MAX_UNVERIFIED_RECIPIENTS);
		expect(kept.recipients[0]!.diagnosticCode).toHaveLength(MAX_UNVERIFIED_TEXT);
		expect(kept.recipients[0]).not.toHaveProperty('originalRecipient');
	});
});

describe('bounceHint()', () => {
	const cases: ReadonlyArray<readonly [string | null, string | null, RegExp]> = [
		['5.1.1', null, NO_MAILBOX],
		['5.1.10', '550 5.1.10 RESOLVER.ADR.RecipientNotFound', NO_MAILBOX],
		[null, '550 Requested action not taken: user unknown', NO_MAILBOX],
		// A code wins over words that would suggest something else.
		['5.1.1', '550 5.1.1 spam trap address does not exist', NO_MAILBOX],
		['5.1.2', null, /^Bad domain: .*after @/],
		['5.2.2', null, /^Mailbox full: /],
		['5.2.3', null, /too large/],
		['5.3.4', '552 5.3.4 Message size exceeds fixed limit', /too large/],
		['5.4.4', null, /^Routing or DNS problem: .*MX records/],
		['5.4.7', null, /^Gave up after retrying/],
		['5.7.1', '550 5.7.1 Message rejected', /^Refused by the recipient server's policy: .*SPF, DKIM or DMARC.*block list/],
		['5.7.1', '550 5.7.1 Rejected: SPF check failed for acme.example.com', /^Refused for SPF: .*SPF record/],
		['5.7.1', '554 5.7.1 Service unavailable; Client host [203.0.113.10] blocked using b.barracudacentral.org', /block list/],
		['5.7.26', null, /^Refused for DMARC: /],
		['5.7.1', '550 5.7.1 Unauthenticated email is not accepted due to domain\'s DMARC policy', /^Refused for DMARC: /],
		['5.7.23', null, /^Refused for SPF: /],
		['5.7.20', null, /^Refused for DKIM: /],
		['5.7.25', null, /PTR record/],
		['5.0.0', '550 5.7.1 blocked using zen.spamhaus.org', /block list/],
		// Exim's generic X.0.0 gives way to the remote's own code in the diagnostic, words or not.
		['5.0.0', '550 5.1.2 Recipient domain unknown', /^Bad domain: /],
		['4.2.2', null, /^Temporary failure: the remote server is still trying.*Reason given: mailbox full\.$/],
		['4.4.1', null, /^Temporary failure: .*could not be found or reached\.$/],
		['4.7.0', null, /^Temporary failure: .*Reason given: refused by policy\.$/],
		[null, '452 Mailbox over quota', /^Temporary failure: .*Reason given: mailbox full\.$/],
		['2.0.0', '250 2.0.0 Ok: queued', /^Delivered /],
		[null, "554: delivery error: dd This user doesn't have a yahoo.com account", NO_MAILBOX],
		[null, 'Host or domain name not found. Name service error for name=gone.example type=MX', /^Routing or DNS problem/],
		[null, null, /^The receiving server could not deliver the message/],
		['5.9.9', 'something unusual happened', /^The receiving server could not deliver the message/]
	];

	it.each(cases.map(([status, diagnostic, hint]) => [String(status), String(diagnostic), status, diagnostic, hint] as const))('%s / %s', (_s, _d, status, diagnostic, hint) => {
		expect(bounceHint(status, diagnostic)).toMatch(hint);
	});
});
