/// <reference types="vite/client" />
/** extractReply() over the reply fixtures and the inputs around its limits (SPEC §11 `reply`). */
import PostalMime from 'postal-mime';
import { describe, expect, it } from 'vitest';
import { extractReply, REPLY_SCAN_CHARS, REPLY_SCAN_LINE_CHARS, REPLY_SCAN_LINES } from '../../worker/webhooks/reply-text';

// Each message beside the new text its reply must come to (tests/fixtures/replies/README.md).
const messages = import.meta.glob<string>('../fixtures/replies/*.eml', { query: '?raw', import: 'default', eager: true });
const expectations = import.meta.glob<string>('../fixtures/replies/*.expected.txt', { query: '?raw', import: 'default', eager: true });

const names = Object.keys(messages).map((path) => path.slice('../fixtures/replies/'.length, -'.eml'.length));

async function textOf(raw: string): Promise<string> {
	// The email() handler parses this way; the reply is taken from postal-mime's text.
	const parsed = await PostalMime.parse(raw, { rfc822Attachments: true });
	if (parsed.text === undefined) throw new Error('no text part');
	return parsed.text;
}

describe('reply fixtures', () => {
	it('has every client shape, each beside its expected reply', () => {
		expect(names.length).toBeGreaterThanOrEqual(22);
		for (const name of names) expect(Object.keys(expectations), name).toContain(`../fixtures/replies/${name}.expected.txt`);
		expect(Object.keys(expectations)).toHaveLength(names.length);
	});

	it.each(names)('%s', async (name) => {
		const text = await textOf(messages[`../fixtures/replies/${name}.eml`]!);
		const expected = expectations[`../fixtures/replies/${name}.expected.txt`]!.replace(/\r\n/g, '\n').trimEnd();
		expect(extractReply(text)).toBe(expected);
	});

	it('strips something from every fixture that quotes or signs, and nothing from the others', async () => {
		const untouched = new Set(['no-quote', 'only-quote']);
		for (const name of names) {
			const text = (await textOf(messages[`../fixtures/replies/${name}.eml`]!)).trim();
			const reply = extractReply(text);
			if (untouched.has(name)) expect(reply, name).toBe(text);
			else expect(reply.length, name).toBeLessThan(text.length);
		}
	});
});

describe('extractReply', () => {
	it('gives nothing for nothing', () => {
		expect(extractReply('')).toBe('');
		expect(extractReply(' \r\n\n\t ')).toBe('');
	});

	it('reads CRLF text like LF text', () => {
		const text = 'Yes, Tuesday works.\r\n\r\nOn Mon, 30 Nov 2026 at 09:12, Acme Support <support@acme.example.com> wrote:\r\n\r\n> Does Tuesday work?\r\n';
		expect(extractReply(text)).toBe('Yes, Tuesday works.');
	});

	it('returns the whole text when only a quote is left', () => {
		const text = '> Does Tuesday work?\n> Acme Support\n';
		expect(extractReply(text)).toBe('> Does Tuesday work?\n> Acme Support');
	});

	it('keeps a closing the parser takes for a signature, and what follows it', () => {
		const text = [
			'The parcel arrived damaged.',
			'',
			'Regards,',
			'Jane',
			'',
			'P.S. The order number is 1234.',
			'',
			'On Mon, 30 Nov 2026 at 09:12, Acme Support <support@acme.example.com> wrote:',
			'',
			'> How can we help?'
		].join('\n');
		expect(extractReply(text)).toBe('The parcel arrived damaged.\n\nRegards,\nJane\n\nP.S. The order number is 1234.');
	});

	it('still removes a real signature below a closing', () => {
		const text = 'Thanks!\n\nCheers,\nJane\n\n-- \nJane Doe | Customer Ltd.\n+44 20 7946 0000\n';
		expect(extractReply(text)).toBe('Thanks!\n\nCheers,\nJane');
	});

	it('finds an Outlook header block in German without the address, and leaves a lone "Von:" line alone', () => {
		const block = 'Danke!\n\nVon: Acme Support\nGesendet: Montag, 30. November 2026 09:12\nAn: Max\nCc: Team\nBetreff: Re: Rechnung\n\nHallo Max,\n';
		expect(extractReply(block)).toBe('Danke!');
		const prose = 'Die Rechnung kam an.\nVon: meiner Kollegin weitergeleitet, danke.\n';
		expect(extractReply(prose)).toBe('Die Rechnung kam an.\nVon: meiner Kollegin weitergeleitet, danke.');
	});

	it('finds a bottom-posted reply below a quote longer than the scan window', () => {
		const quote = Array.from({ length: 400 }, (_, i) => `> line ${i} of a long quoted history`).join('\n');
		expect(quote.length).toBeGreaterThan(REPLY_SCAN_CHARS * 2);
		const text = `On 30/11/2026 09:12, Acme Support wrote:\n${quote}\n\nThanks, that answers it.\n\nJane\n`;
		expect(extractReply(text)).toBe('Thanks, that answers it.\n\nJane');
	});

	it('keeps new text longer than the scan window whole, quote and all', () => {
		const paragraph = 'The device restarts every few minutes and shows error 0x45 before it does. ';
		const body = Array.from({ length: 80 }, () => paragraph).join('\n');
		expect(body.length).toBeGreaterThan(REPLY_SCAN_CHARS);
		const text = `${body}\n\nOn Mon, 30 Nov 2026 at 09:12, Acme Support <support@acme.example.com> wrote:\n\n> Can you describe it?\n`;
		// The quote starts past the window, so nothing tells it apart from the new text. (Lines
		// past the window keep their trailing spaces.)
		const trimLines = (value: string) => value.split('\n').map((line) => line.trimEnd()).join('\n');
		expect(trimLines(extractReply(text))).toBe(trimLines(text.trim()));
	});

	it('keeps more than REPLY_SCAN_LINES short lines whole, quote and all', () => {
		const body = Array.from({ length: REPLY_SCAN_LINES + 20 }, (_, i) => `step ${i}`).join('\n');
		const text = `${body}\n\nOn Mon, 30 Nov 2026 at 09:12, Acme Support <support@acme.example.com> wrote:\n\n> Which steps?`;
		expect(extractReply(text)).toBe(text);
	});

	it('keeps a paragraph longer than REPLY_SCAN_LINE_CHARS as it is, and hides a quoted one', () => {
		// format=flowed paragraphs arrive from postal-mime as one line each.
		const paragraph = 'The device restarts every few minutes, and before it does it shows error 0x45. '.repeat(20).trim();
		expect(paragraph.length).toBeGreaterThan(REPLY_SCAN_LINE_CHARS);
		const text = `Hi,\n\n${paragraph}\n\nJane\n\nOn 30/11/2026 09:12, Acme Support wrote:\n> ${paragraph}\n> Kind regards\n`;
		expect(extractReply(text)).toBe(`Hi,\n\n${paragraph}\n\nJane`);
	});

	it('cuts an Outlook history of any length at its header block', () => {
		const reply = 'Yes, please cancel it.';
		const history = Array.from({ length: 300 }, (_, i) => `line ${i} of the earlier message`).join('\n');
		const text = `${reply}\n\nFrom: Acme Support <support@acme.example.com>\nSent: Monday, November 30, 2026 9:12 AM\nTo: Jane\nSubject: Re: Order\n\n${history}\n`;
		expect(text.length).toBeGreaterThan(REPLY_SCAN_CHARS * 2);
		expect(extractReply(text)).toBe(reply);
	});

	it('drops what follows the window when the window ends inside the history', () => {
		const reply = 'Yes, please cancel it.';
		const history = Array.from({ length: 300 }, (_, i) => `line ${i} of the earlier message`).join('\n');
		const text = `${reply}\n\n-----Original Message-----\n${history}\n`;
		expect(text.length).toBeGreaterThan(REPLY_SCAN_CHARS * 2);
		expect(extractReply(text)).toBe(reply);
	});
});

describe('extractReply on hostile text', () => {
	// email-reply-parser's patterns backtrack catastrophically without re2
	// (crisp-oss/email-reply-parser#39): on 4 KiB of these shapes the bare parser took up to
	// half a second, on 16 KiB seconds, on the megabyte here hours. The window keeps each
	// within milliseconds; vitest's timeout is the bound. Text past the window is kept.
	const shapes: Record<string, string> = {
		'Norwegian "skrev" lines': 'abc. x skrev y\n',
		'"skrev" many times a line': `abc.${' skrev'.repeat(6)} y:z\n`,
		'Dutch "Op ... schreef" lines': 'Op x\nschreef y:z\n',
		'"schreef" many times a line': `Op x${' schreef'.repeat(4)} y:z\n`,
		'Chinese "在 ... 写道：" lines': '在 x\n写道：y\n',
		'" on ... at ..." on one line': ' on x at y',
		'" on ... at ..." on lines just under the masking length': `${' on x at y'.repeat(99)}\n`,
		'runs of blank lines with spaces': 'x\n \n\t\n \n',
		'quoted lines only': '> quoted\n'
	};

	it.each(Object.entries(shapes))('%s', (_name, unit) => {
		const text = unit.repeat(Math.ceil((1024 * 1024) / unit.length));
		const started = performance.now();
		const reply = extractReply(text);
		// Generous: the bare parser needs minutes here, the windowed one well under a second.
		expect(performance.now() - started).toBeLessThan(5000);
		expect(reply.length).toBeGreaterThan(0);
		expect(reply.length).toBeLessThanOrEqual(text.length);
	});
});
