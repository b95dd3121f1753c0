/// <reference types="vite/client" />
/**
 * Real bounces of every SPEC §15 format (tests/fixtures/bounces/sisimai/, from sisimai's
 * set-of-emails, BSD 2-Clause) and what recognition must read from each: shared by the pure
 * test (bounce-formats.test.ts) and the one through the email() handler (bounce-inbound.test.ts).
 */
import { expect } from 'vitest';

export const formatFixtures = import.meta.glob<string>('../fixtures/bounces/sisimai/*.eml', { query: '?raw', import: 'default', eager: true });
export const formatFixture = (file: string) => formatFixtures[`../fixtures/bounces/sisimai/${file}`]!;

export interface FormatRecipient {
	recipient: string;
	status: string;
	diagnostic: string;
	remoteMta?: string;
}

export interface FormatCase {
	file: string;
	format: 'dsn' | 'plain';
	reportingMta: string | null;
	/** The returned message's Message-ID as the fixture has it; the end-to-end test rewrites it to a real reply's. */
	returnedId: string;
	recipients: FormatRecipient[];
}

export const formatCases: FormatCase[] = [
	{
		// Exchange 5.5-2003 IMS: multipart/mixed, "did not reach the following recipient(s)", two recipients, IMS code 000C05A6.
		file: 'lhost-exchange2003-02.eml',
		format: 'plain',
		reportingMta: null,
		returnedId: '000000000000000.0000000@example.jp',
		recipients: ['kijitora@example.co.jp', 'mikeneko@example.co.jp'].map((recipient) => ({
			recipient,
			status: '5.1.1',
			diagnostic: 'The recipient name is not recognized MSEXCH:IMS:KIJITORA CAT:EXAMPLE:EXCHANGE 0 (000C05A6) Unknown Recipient'
		}))
	},
	{
		file: 'lhost-exchange2007-03.eml',
		format: 'dsn',
		reportingMta: 'neko.example.com',
		returnedId: '20100429233445.FF00FFEE0000@r2.example.org',
		recipients: [{ recipient: 'kijitora@neko.example.com', status: '5.2.3', diagnostic: '550 5.2.3 RESOLVER.RST.RecipSizeLimit; message too large for this recipient' }]
	},
	{
		file: 'lhost-gmx-01.eml',
		format: 'plain',
		reportingMta: null,
		returnedId: 'trinity-d174cb7e-d4a8-4dd5-8b53-7a9f70928e75-1417217529360@3capp-mailcom-lxa02',
		recipients: [
			{
				recipient: 'shironeko@example.jp',
				status: '5.2.2',
				diagnostic: 'SMTP error from remote server after RCPT command: host: mx.example.jp 5.2.2 <shironeko@example.jp>... Mailbox Full',
				remoteMta: 'mx.example.jp'
			}
		]
	},
	{
		// GMX's other shape: <address>, then a "Reason:" paragraph.
		file: 'lhost-gmx-04.eml',
		format: 'plain',
		reportingMta: null,
		returnedId: 'trinity-8bc3e11d-b17c-4641-8692-498e8a19f323-1417217587540@3capp-mailcom-lxa02',
		recipients: [{ recipient: 'kijitora@6jo.example.co.jp', status: '5.4.7', diagnostic: 'delivery retry timeout exceeded' }]
	},
	{
		file: 'lhost-dragonfly-01.eml',
		format: 'plain',
		reportingMta: 'df.example.jp',
		returnedId: '66681288.e06d1.3824794@df.example.jp',
		recipients: [
			{
				recipient: 'pseudo-local-part@google.example.com',
				status: '5.7.26',
				diagnostic:
					"550-5.7.26 Unauthenticated email from example.jp is not accepted due to domain's 550-5.7.26 DMARC policy. Please contact the administrator of example.jp domain if 550-5.7.26 this was a legitimate mail. To learn about the DMARC initiative, go 550-5.7.26 to 550 5.7.26 https://support.google.com/mail/?p=DmarcRejection 98e67ed59e1d1-2c2d0e28189si6418580a91.13 - gsmtp",
				remoteMta: 'gmail-smtp-in.l.google.com'
			}
		]
	},
	{
		file: 'lhost-dragonfly-04.eml',
		format: 'plain',
		reportingMta: 'df.example.jp',
		returnedId: '666815b5.e0722.4e479ce6@df.example.jp',
		recipients: [{ recipient: 'postmaster@cx.libsisimai.org', status: '5.1.2', diagnostic: 'DNS lookup failure: host cx.libsisimai.org not found' }]
	},
	{
		file: 'lhost-imailserver-01.eml',
		format: 'plain',
		reportingMta: null,
		returnedId: '00000000.ffffffff@example.org',
		recipients: [{ recipient: 'kijitora@example.com', status: '5.1.1', diagnostic: 'Unknown user: kijitora@example.com' }]
	},
	{
		file: 'lhost-imailserver-02.eml',
		format: 'plain',
		reportingMta: null,
		returnedId: '00000000000000000000000@smtp5.example.ne.jp',
		recipients: [{ recipient: 'kijitora@example.co.jp', status: '5.2.2', diagnostic: 'User mailbox exceeds allowed size: kijitora@example.co.jp' }]
	},
	{
		// Domino: multipart/mixed around a report whose Status is the generic 5.0.0, as written.
		file: 'lhost-domino-03.eml',
		format: 'dsn',
		reportingMta: 'relay2.neko.example.org',
		returnedId: 'FF00EE22AA.AA0AFFE2-NEKO000222.002DDADA-B0000304.00222002A@example.edu',
		recipients: [
			{
				recipient: 'kijitora@neko.example.org',
				status: '5.0.0',
				diagnostic: 'Error transferring to neko22.example.org; Ma ximum hop count exceeded. Message probably in a routing loop.',
				remoteMta: 'neko22.example.org'
			}
		]
	},
	{
		// qmail: the remote's 550 without an enhanced code; qmail's own "(#5.5.0)" tail on the next line, as written.
		file: 'lhost-qmail-01.eml',
		format: 'plain',
		reportingMta: 'mx4.example.jp',
		returnedId: '000000000.9999999999999.JavaMail.postmaster@mailhub',
		recipients: [{ recipient: 'kijitora@example.ne.jp', status: '5.5.0', diagnostic: '550 Unknown user kijitora@example.ne.jp', remoteMta: '192.0.2.32' }]
	},
	{
		file: 'lhost-qmail-13.eml',
		format: 'plain',
		reportingMta: 'nq.example.jp',
		returnedId: '20240624085201.44446.qmail@nq.example.jp',
		recipients: [{ recipient: 'nekochan@cx.libsisimai.com', status: '5.1.2', diagnostic: "Sorry, I couldn't find any host named cx.libsisimai.com. (#5.1.2)" }]
	},
	{
		// IndiMail, a qmail fork: multipart/mixed, the message after "--- Enclosed is a copy of the message.".
		file: 'lhost-qmail-21.eml',
		format: 'plain',
		reportingMta: 'email.example.jp',
		returnedId: '20240626061325.41784.indimail@idhost',
		recipients: [{ recipient: 'libgsasl7-dev@email.example.jp', status: '5.1.1', diagnostic: 'Sorry, no mailbox here by that name. (#5.1.1)' }]
	},
	{
		// Hotmail's Windows SMTP service: the text part labelled unicode-1-1-utf-7, which TextDecoder lacks.
		file: 'lhost-outlook-01.eml',
		format: 'dsn',
		reportingMta: 'BLU004-OMC3S13.hotmail.example.com',
		returnedId: 'BLU436-SMTP6645ECA6E7FEFFE86D040BBA770@phx.gbl',
		recipients: [{ recipient: 'kijitora@example.jp', status: '5.2.2', diagnostic: '550 5.2.2 <kijitora@example.jp>... Mailbox Full' }]
	}
];

export const pureReport = (c: Pick<FormatCase, 'format' | 'reportingMta' | 'returnedId' | 'recipients'>) => ({
	format: c.format,
	reportingMta: c.reportingMta,
	returnedMessageIds: [c.returnedId],
	threadMessageIds: [],
	recipients: c.recipients.map((r) => ({
		finalRecipient: r.recipient,
		originalRecipient: null,
		action: 'failed',
		status: r.status,
		diagnosticCode: r.diagnostic,
		remoteMta: r.remoteMta ?? null,
		hint: expect.any(String)
	})),
	delayOnly: false
});

/** RFC 2152 UTF-7 as Windows writes it: every character outside Set D (and space, CR, LF) in a base64 run. */
export function encodeUtf7(text: string): string {
	return text.replace(/[^A-Za-z0-9'(),\-./:? \r\n]+/g, (run) => {
		const bytes = Array.from({ length: run.length }, (_, i) => run.charCodeAt(i)).flatMap((unit) => [unit >> 8, unit & 0xff]);
		return `+${btoa(String.fromCharCode(...bytes)).replace(/=+$/, '')}-`;
	});
}

/** IMail's bounce, its text declared and written in UTF-7 ("<", "@" and ">" encoded, as Windows writes them). */
export function imailInUtf7(label: string): string {
	const raw = formatFixture('lhost-imailserver-01.eml').replace('Subject: Undeliverable Mail', `Subject: Undeliverable Mail\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=${label}`);
	const split = raw.indexOf('\r\n\r\n') + 4;
	return raw.slice(0, split) + encodeUtf7(`Die Nachricht konnte nicht zugestellt werden (für Sie).\r\n${raw.slice(split)}`);
}

