/**
 * SPEC §15 "Bounces in every format": what recognizeBounce() reads from real bounces of
 * Exchange 2003/2007, GMX/Web.de, DragonFly Mail Agent, IMail, Domino, qmail and its forks,
 * and reports labelled UTF-7 (bounce-format-cases.ts). Through the email() handler, each is
 * matched to a real reply in bounce-inbound.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { bounceHint, recognizeBounce } from '../../worker/inbound/bounce';
import { parseMail } from '../../worker/inbound/parse-mail';
import { decodeUtf7 } from '../../worker/mail/utf7';
import { formatCases as cases, formatFixture as fixture, formatFixtures as fixtures, imailInUtf7, pureReport as pure } from './bounce-format-cases';

async function recognize(raw: string, envelopeFrom = '') {
	// As the email() handler parses it.
	const parsed = await parseMail(raw);
	return recognizeBounce({ raw: new TextEncoder().encode(raw), parsed, envelopeFrom });
}

describe('recognizeBounce() over real bounces of every SPEC §15 format', () => {
	it('covers every fixture', () => {
		expect(Object.keys(fixtures).map((path) => path.split('/').pop()).sort()).toEqual(cases.map((c) => c.file).sort());
	});

	it.each(cases.map((c) => [c.file, c] as const))('%s', async (_name, c) => {
		expect(await recognize(fixture(c.file))).toEqual(pure(c));
	});

	it('reads Exchange 2000/2003 SMTP wording and its "<server #5.x.x>" status', async () => {
		const raw = fixture('lhost-exchange2003-02.eml')
			.replace('Your message\r\n', 'Your message did not reach some or all of the intended recipients.\r\n')
			.replace('did not reach the following recipient(s):', 'The following recipient(s) could not be reached:')
			.replaceAll(/\tThe MTS-ID[^\r]*\r\n;l=[^\r]*\r\n    MSEXCH:IMS:[^\r]*/g, '    <mail.example.co.jp #5.2.2>');
		const report = await recognize(raw);
		expect(report?.recipients.map((r) => [r.finalRecipient, r.status, r.diagnosticCode])).toEqual([
			['kijitora@example.co.jp', '5.2.2', 'The recipient name is not recognized <mail.example.co.jp #5.2.2>'],
			['mikeneko@example.co.jp', '5.2.2', 'The recipient name is not recognized <mail.example.co.jp #5.2.2>']
		]);
		expect(report?.recipients[0]!.hint).toMatch(/^Mailbox full/);
	});

	it("keeps qmail's vague (#5.5.0) as written, and hints from the remote's words", async () => {
		const [recipient] = (await recognize(fixture('lhost-qmail-01.eml')))!.recipients;
		expect(recipient!.status).toBe('5.5.0');
		expect(recipient!.hint).toMatch(/^No such mailbox/);
		expect(bounceHint('5.5.0', '503 5.5.0 bad sequence of commands')).toMatch(/refused the SMTP conversation/);
	});

	it('reads Domino\'s plain notice: the address after "was not delivered to:", the reason after "because:"', async () => {
		// sisimai's lhost-domino-01 (inline here: it returns no copy, so only its own In-Reply-To could name the reply).
		const raw = [
			'From: Postmaster@example.jp',
			'To: Sender Address <shironeko@example.com>',
			'Subject: DELIVERY FAILURE: User Kijitoranyan (kijitora@example.jp) not listed in',
			' Domino Directory',
			'Message-ID: <0000000000.000000000-000000000.00000000-00000000.00000000@example.com>',
			'In-Reply-To: <returned@example.com>',
			'Content-Type: Text/Plain',
			'Content-Transfer-Encoding: 8bit',
			'',
			'Your message',
			'',
			'  Subject: Test Bounce',
			'',
			'was not delivered to:',
			'',
			'  kijitora@example.jp',
			'',
			'because:',
			'',
			'  User some.name (kijitora@example.jp) not listed in Domino Directory',
			''
		].join('\r\n');
		const report = await recognize(raw);
		expect(report?.threadMessageIds).toEqual(['returned@example.com']);
		expect(report?.recipients).toEqual([
			expect.objectContaining({ finalRecipient: 'kijitora@example.jp', action: 'failed', status: null, diagnosticCode: 'User some.name (kijitora@example.jp) not listed in Domino Directory', hint: expect.stringMatching(/^No such mailbox/) })
		]);
	});

	it("reads qmail's status from its sentence when a fork leaves out the tail", async () => {
		const noMailbox = await recognize(fixture('lhost-qmail-21.eml').replace('by that name. (#5.1.1)', 'by that name.'));
		expect(noMailbox?.recipients.map((r) => [r.status, r.diagnosticCode])).toEqual([['5.1.1', 'Sorry, no mailbox here by that name.']]);
		const noHost = await recognize(fixture('lhost-qmail-13.eml').replace(' (#5.1.2)', ''));
		expect(noHost?.recipients.map((r) => r.status)).toEqual(['5.1.2']);
	});

	it('decodes a plain report written in UTF-7 instead of reading its encoded form', async () => {
		expect(decodeUtf7('Hi Mom -+Jjo--! A+ImIDkQ. 1 +- 1 = 2 +AGQ')).toBe('Hi Mom -\u263a-! A\u2262\u0391. 1 + 1 = 2 d');
		const expected = pure(cases.find((c) => c.file === 'lhost-imailserver-01.eml')!);
		for (const label of ['utf-7', 'unicode-1-1-utf-7']) expect(await recognize(imailInUtf7(label)), label).toEqual(expected);
		// Control: the same bytes read as the us-ascii they are not name no recipient and no returned message.
		expect(await recognize(imailInUtf7('us-ascii'))).toBeNull();
	});

	it('takes the new shapes only from a mailer, and only with the returned Message-ID, like every plain notice', async () => {
		const fromPerson = fixture('lhost-dragonfly-01.eml').replace('From: MAILER-DAEMON <>', 'From: Pat <pat@df.example.jp>');
		expect(await recognize(fromPerson, 'pat@df.example.jp')).toBeNull();
		expect(await recognize(fromPerson, '')).not.toBeNull();
		const raw = fixture('lhost-imailserver-01.eml');
		expect(await recognize(raw.slice(0, raw.indexOf('Original message follows.')))).toBeNull();
	});

	it('stays fast on hostile notices (bounded patterns, one pass)', async () => {
		const long = 'a'.repeat(60_000);
		const notice = [
			`${long}@${long} on 1/1/2000 ${long}`,
			`"${long}@example.org":`,
			`Unknown user: ${long}`,
			`There was an error delivering your mail to <${long}`,
			`${'a.'.repeat(20_000)} [192.0.2.1] did not like our RCPT TO:`,
			`MSEXCH:${'('.repeat(20_000)}`,
			`(#5.1.1 - ${'-'.repeat(20_000)}`,
			`+${'A'.repeat(60_000)}`
		].join('\r\n');
		const raw = fixture('lhost-imailserver-01.eml').replace('Unknown user: kijitora@example.com', notice).replace('charset=us-ascii', 'charset=utf-7');
		const started = Date.now();
		await recognize(raw);
		await recognize(raw.replace('Subject: Undeliverable Mail', 'Subject: Undeliverable Mail\r\nContent-Type: text/plain; charset=utf-7'));
		expect(Date.now() - started).toBeLessThan(2_000);
	});
});
