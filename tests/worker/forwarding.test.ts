/// <reference types="vite/client" />
/** classifyForwarding() over the .eml fixtures and one-rule variants (SPEC §5.4). */
import PostalMime from 'postal-mime';
import { describe, expect, it } from 'vitest';
import { classifyForwarding, manualForwardRejectReason, type ForwardingClass } from '../../worker/inbound/forwarding';
import { buildMessage, type MessageOptions } from './build-message';

const fixtures = import.meta.glob<string>('../fixtures/email/*.eml', { query: '?raw', import: 'default', eager: true });
const SERVICE = 'support@help.acme.example';

async function classify(raw: Uint8Array | string, envelopeFrom = 'alice@customer.example', envelopeTo = SERVICE) {
	// The email() handler parses this way, so an attached message without Content-Disposition is listed too.
	const parsed = await PostalMime.parse(raw, { rfc822Attachments: true });
	return classifyForwarding({ envelopeFrom, envelopeTo, headers: parsed.headers, parsed, serviceAddresses: [SERVICE] });
}

const build = (options: MessageOptions) => classify(buildMessage(options));

interface Case {
	file: string;
	envelopeFrom: string;
	class: ForwardingClass;
	evidence: RegExp[];
}

const cases: Case[] = [
	{ file: 'plain.eml', envelopeFrom: 'alice@customer.example', class: 'none', evidence: [] },
	{
		file: 'native-forward.eml',
		envelopeFrom: 'SRS0=Xk3f=5Q=customer.example=carol@acme.example',
		class: 'native',
		evidence: [/Sender Rewriting Scheme \(SRS0\).*acme\.example.*original sender was carol@customer\.example/, /envelope recipient support@help\.acme\.example is not among the header recipients \(support@acme\.example\)/, /\(mx\.acme\.example\) received it for support@acme\.example/]
	},
	{ file: 'manual-gmail.eml', envelopeFrom: 'dan.agent@gmail.com', class: 'manual', evidence: [/"Fwd:".*"---------- Forwarded message ---------" separator \(Gmail\)/] },
	{ file: 'manual-outlook.eml', envelopeFrom: 'erin@acme.example', class: 'manual', evidence: [/"FW:".*Outlook "From: … Sent: … To: … Subject:" header block/] },
	{ file: 'manual-attached.eml', envelopeFrom: 'grace@acme.example', class: 'manual', evidence: [/"Fwd:", but the body has no quoted forwarded block/, /attached email \("Broken hinge on cabinet\.eml"\)/] },
	...['mislabelled-charset.eml', 'replacement-characters.eml', 'invalid-charset.eml', 'blank.eml', 'html-blank.eml', 'latin1-legit.eml', 'two-charsets.eml'].map((file) => ({ file, envelopeFrom: 'someone@customer.example', class: 'none' as const, evidence: [] }))
];

describe('classifyForwarding() over the fixtures', () => {
	it('covers every fixture', () => {
		expect(Object.keys(fixtures).map((path) => path.split('/').pop()).sort()).toEqual(cases.map((c) => c.file).sort());
	});

	it.each(cases.map((c) => [c.file, c] as const))('%s', async (_name, c) => {
		const verdict = await classify(fixtures[`../fixtures/email/${c.file}`]!, c.envelopeFrom);
		expect(verdict.class).toBe(c.class);
		expect(verdict.evidence).toHaveLength(c.evidence.length);
		for (const pattern of c.evidence) expect(verdict.evidence.some((e) => pattern.test(e)), `${pattern} in ${JSON.stringify(verdict.evidence)}`).toBe(true);
	});
});

const forwardedText = 'FYI\n\n---------- Forwarded message ---------\nFrom: Carol <carol@customer.example>\nSubject: Help\n\nHelp me.\n';

describe('manual forwarding', () => {
	it.each(['Fwd: Help', 'FW: Help', 'Fw: Help', 'WG: Hilfe', 'TR: Aide', 'RV: Ayuda', 'Re: Fwd: Help', '[EXTERNAL] FW: Help', 'Fwd[2]: Help'])('needs a forward prefix: %s', async (subject) => {
		expect((await build({ subject, parts: [{ body: forwardedText }] })).class).toBe('manual');
	});

	it.each(['Help', 'Forward planning', 'Re: Help', 'TRAINING: Help'])('control: no forward prefix in "%s"', async (subject) => {
		const verdict = await build({ subject, parts: [{ body: forwardedText }] });
		expect(verdict.class).toBe('none');
		expect(verdict.evidence).toEqual([expect.stringMatching(/but the subject has no forward prefix/)]);
	});

	it.each([
		['Gmail', '---------- Forwarded message ---------'],
		['Gmail, German', '---------- Weitergeleitete Nachricht ---------'],
		['Thunderbird', '-------- Forwarded Message --------'],
		['Outlook (old)', '-----Original Message-----'],
		['Apple Mail', 'Begin forwarded message:'],
		['quoted inside a reply', '> ---------- Forwarded message ---------']
	])('needs a forwarded block: %s', async (_client, separator) => {
		expect((await build({ subject: 'Fwd: Help', parts: [{ body: `FYI\n\n${separator}\nFrom: Carol\n\nHelp me.\n` }] })).class).toBe('manual');
	});

	it('finds an Outlook header block in German, and in HTML', async () => {
		const german = 'Bitte erledigen.\n\nVon: Frank <frank@customer.example>\nGesendet: Montag, 13. Oktober 2025 16:41\nAn: Erin\nBetreff: Lieferung\n\nHallo';
		expect((await build({ subject: 'WG: Lieferung', parts: [{ body: german }] })).class).toBe('manual');
		const html = '<p>Please</p><div><b>From:</b> Frank<br><b>Sent:</b> Monday<br><b>To:</b> Erin<br><b>Subject:</b> Hello</div>';
		expect((await build({ subject: 'FW: Hello', parts: [{ contentType: 'text/html; charset=utf-8', body: html }] })).class).toBe('manual');
	});

	it('control: a Fwd: subject without a forwarded block, and From/Subject lines without Sent', async () => {
		const verdict = await build({ subject: 'Fwd: Help', parts: [{ body: 'From: me\nSubject: help\n\nI wrote this myself.' }] });
		expect(verdict.class).toBe('none');
		expect(verdict.evidence).toEqual([expect.stringMatching(/"Fwd:", but the body has no quoted forwarded block/)]);
	});

	const attachedEml = 'From: Carol <carol@customer.example>\r\nTo: erin@acme.example\r\nSubject: Help\r\n\r\nHelp me.\r\n';

	it('counts an attached message from a person, with or without Content-Disposition', async () => {
		for (const disposition of ['attachment; filename="help.eml"', undefined]) {
			const verdict = await build({ subject: 'Help', parts: [{ body: 'see attached' }, { contentType: 'message/rfc822', disposition, body: attachedEml }] });
			expect(verdict.class).toBe('manual');
		}
	});

	interface SystemVariant {
		envelopeFrom?: string;
		headers?: Array<[string, string]>;
		multipart?: string;
	}
	it.each<[string, SystemVariant]>([
		['a bounce (empty envelope sender)', { envelopeFrom: '' }],
		['MAILER-DAEMON', { envelopeFrom: 'MAILER-DAEMON@mx.customer.example' }],
		['Auto-Submitted', { headers: [['Auto-Submitted', 'auto-generated']] }],
		['a mailing list', { headers: [['List-Id', '<help.lists.example>']] }],
		['a report', { multipart: 'report; report-type=delivery-status' }]
	])('control: an attached message from a system is not manual: %s', async (_name, variant) => {
		const raw = buildMessage({ subject: 'Help', headers: variant.headers, multipart: variant.multipart, parts: [{ body: 'see attached' }, { contentType: 'message/rfc822', disposition: 'attachment', body: attachedEml }] });
		const verdict = await classify(raw, variant.envelopeFrom ?? 'erin@acme.example');
		expect(verdict.class).toBe('none');
		expect(verdict.evidence.join(' ')).toMatch(/An email is attached .* so it is not treated as a manual forward/);
	});

	it('wins over native evidence', async () => {
		const raw = buildMessage({ subject: 'Fwd: Help', headers: [['X-Forwarded-To', SERVICE]], to: 'erin@acme.example', parts: [{ body: forwardedText }] });
		const verdict = await classify(raw, 'SRS0=abcd=TT=acme.example=erin@relay.example');
		expect(verdict.class).toBe('manual');
		expect(verdict.evidence.length).toBeGreaterThan(2);
	});
});

describe('native forwarding', () => {
	it('SRS envelope sender (SRS0 and SRS1)', async () => {
		for (const sender of ['SRS0=HHH=TT=customer.example=carol@fwd.example', 'SRS1=HHH=fwd.example==HHH=TT=customer.example=carol@fwd2.example', 'srs0+HHH=TT=customer.example=carol@fwd.example']) {
			const verdict = await classify(buildMessage({}), sender);
			expect(verdict.class, sender).toBe('native');
		}
		const control = await classify(buildMessage({}), 'srs-team@customer.example');
		expect(control).toEqual({ class: 'none', evidence: [] });
	});

	it.each(['X-Forwarded-To', 'X-Forwarded-For', 'Resent-From', 'Resent-To', 'Resent-Date', 'Resent-Message-ID'])('the %s header', async (name) => {
		const verdict = await build({ headers: [[name, name === 'Resent-Date' ? 'Tue, 14 Oct 2025 12:00:00 +0000' : 'agent@acme.example']] });
		expect(verdict.class).toBe('native');
		expect(verdict.evidence).toHaveLength(1);
	});

	it('the envelope recipient missing from To/Cc, with a hop received for the original recipient', async () => {
		const received: [string, string] = ['Received', 'from mail.customer.example by mx.acme.example (Postfix) with ESMTPS id 1 for <support@acme.example>; Tue, 14 Oct 2025 11:20:40 +0200'];
		expect((await build({ to: 'support@acme.example', headers: [received] })).class).toBe('native');
	});

	it('the envelope recipient missing from To/Cc, with Delivered-To another mailbox', async () => {
		const verdict = await build({ to: 'support@acme.example', headers: [['Delivered-To', 'support@acme.example']] });
		expect(verdict.class).toBe('native');
		expect(verdict.evidence[1]).toMatch(/Delivered-To: support@acme\.example shows it was delivered to another mailbox/);
	});

	it('the envelope recipient missing from To/Cc, with more hops than usual', async () => {
		const hops = Array.from({ length: 11 }, (_, i): [string, string] => ['Received', `from h${i}.example by h${i + 1}.example; Tue, 14 Oct 2025 11:20:40 +0200`]);
		expect((await build({ to: 'support@acme.example', headers: hops })).class).toBe('native');
		expect((await build({ headers: hops })).class).toBe('none');
	});

	it('control: the recipient mismatch alone is Bcc or a list, not forwarding', async () => {
		const verdict = await build({ to: 'someone@customer.example' });
		expect(verdict.class).toBe('none');
		expect(verdict.evidence).toEqual([expect.stringMatching(/not among the header recipients .* \(or the service address was in Bcc\)/)]);
	});

	it('control: addressed to the service address in Cc, in a group, or to another service address of the mailbox', async () => {
		const received: [string, string] = ['Received', 'by mx.acme.example for <someone@customer.example>; Tue, 14 Oct 2025 11:20:40 +0200'];
		expect((await build({ to: 'someone@customer.example', cc: 'Support <SUPPORT@help.acme.example>', headers: [received] })).class).toBe('none');
		expect((await build({ to: 'Team: someone@customer.example, support@help.acme.example;', headers: [received] })).class).toBe('none');
		const raw = buildMessage({ to: 'support@help.acme.example', headers: [received] });
		const parsed = await PostalMime.parse(raw);
		const verdict = classifyForwarding({ envelopeFrom: 'a@customer.example', envelopeTo: 'other@help.acme.example', headers: parsed.headers, parsed, serviceAddresses: ['other@help.acme.example', 'support@help.acme.example'] });
		expect(verdict.class).toBe('none');
	});
});

describe('manualForwardRejectReason()', () => {
	it('points at native forwarding, in one line of plain ASCII', () => {
		const reason = manualForwardRejectReason();
		expect(reason).toMatch(/native\) forwarding/);
		expect(reason).toMatch(/^[\x20-\x7e]+$/);
	});
});
