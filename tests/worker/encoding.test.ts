/// <reference types="vite/client" />
/** diagnoseEncoding() over the .eml fixtures and one-rule variants (SPEC §5.5). */
import PostalMime from 'postal-mime';
import { describe, expect, it } from 'vitest';
import { diagnoseEncoding } from '../../worker/inbound/encoding';
import { buildMessage, latin1 } from './build-message';

// The fixtures are 7-bit (8-bit content is quoted-printable or base64), so `?raw` reads them byte for byte.
const fixtures = import.meta.glob<string>('../fixtures/email/*.eml', { query: '?raw', import: 'default', eager: true });
const fixture = (name: string) => {
	const text = fixtures[`../fixtures/email/${name}`];
	if (text === undefined) throw new Error(`no fixture ${name}`);
	return new TextEncoder().encode(text);
};

async function diagnose(raw: Uint8Array) {
	const parsed = await PostalMime.parse(raw, { rfc822Attachments: true });
	return diagnoseEncoding({ raw, parsed });
}

interface Case {
	file: string;
	charsets: string[];
	garbled: boolean;
	blank: boolean;
	/** Each must match one finding; no findings at all when empty. */
	findings: RegExp[];
}

const cases: Case[] = [
	{ file: 'plain.eml', charsets: ['utf-8'], garbled: false, blank: false, findings: [] },
	{ file: 'native-forward.eml', charsets: ['utf-8'], garbled: false, blank: false, findings: [] },
	{ file: 'manual-gmail.eml', charsets: ['utf-8'], garbled: false, blank: false, findings: [] },
	{ file: 'manual-outlook.eml', charsets: ['us-ascii'], garbled: false, blank: false, findings: [] },
	{ file: 'manual-attached.eml', charsets: ['utf-8'], garbled: false, blank: false, findings: [] },
	{
		file: 'mislabelled-charset.eml',
		charsets: ['iso-8859-1'],
		garbled: true,
		blank: false,
		findings: [/^text\/plain declared iso-8859-1 contains UTF-8 byte sequences \(mojibake such as 'Ã¡' for 'á'\)/, /mojibake sequences typical of UTF-8 read as Latin-1.*'Ã¡'/]
	},
	{ file: 'replacement-characters.eml', charsets: ['utf-8'], garbled: true, blank: false, findings: [/^4 replacement characters \(U\+FFFD\) in the decoded text\.$/] },
	{ file: 'invalid-charset.eml', charsets: ['unknown-8bit'], garbled: true, blank: false, findings: [/unknown charset 'unknown-8bit'; its 8-bit bytes were decoded as Windows-1252/] },
	{ file: 'blank.eml', charsets: ['utf-8'], garbled: false, blank: true, findings: [/no text or HTML body with visible content\.$/] },
	{ file: 'html-blank.eml', charsets: ['utf-8'], garbled: false, blank: true, findings: [/no text or HTML body/] },
	{ file: 'latin1-legit.eml', charsets: ['iso-8859-1'], garbled: false, blank: false, findings: [] },
	{ file: 'two-charsets.eml', charsets: ['utf-8', 'windows-1252'], garbled: false, blank: false, findings: [] }
];

describe('diagnoseEncoding() over the fixtures', () => {
	it('covers every fixture', () => {
		expect(Object.keys(fixtures).map((path) => path.split('/').pop()).sort()).toEqual(cases.map((c) => c.file).sort());
	});

	it.each(cases.map((c) => [c.file, c] as const))('%s', async (_name, c) => {
		const result = await diagnose(fixture(c.file));
		expect({ charsets: result.charsets, garbled: result.garbled, blank: result.blank }).toEqual({ charsets: c.charsets, garbled: c.garbled, blank: c.blank });
		expect(result.findings).toHaveLength(c.findings.length);
		for (const pattern of c.findings) expect(result.findings.some((finding) => pattern.test(finding)), `${pattern} in ${JSON.stringify(result.findings)}`).toBe(true);
	});

	it('never rewrites content: the parse is the same before and after', async () => {
		const raw = fixture('mislabelled-charset.eml');
		const parsed = await PostalMime.parse(raw);
		const before = JSON.stringify(parsed);
		diagnoseEncoding({ raw, parsed });
		expect(JSON.stringify(parsed)).toBe(before);
		expect(parsed.text).toContain('nÃ£o recebi');
	});
});

describe('declared charsets', () => {
	it('reads quoted, commented and RFC 2231 charset parameters, lowercased and deduplicated', async () => {
		const raw = buildMessage({
			parts: [
				{ contentType: 'text/plain; charset="UTF-8"', body: 'one' },
				{ contentType: 'text/plain; (a comment) charset=utf-8', body: 'two' },
				{ contentType: "text/plain; charset*=us-ascii'en'ISO-8859-15", body: 'three' },
				{ contentType: 'text/plain', body: 'no label' }
			]
		});
		expect((await diagnose(raw)).charsets).toEqual(['utf-8', 'iso-8859-15']);
	});

	it('skips attachments, but reads an inline nested message', async () => {
		const nested = 'From: a@b.example\r\nSubject: inner\r\nContent-Type: text/plain; charset=koi8-r\r\n\r\ninner';
		const raw = buildMessage({
			parts: [
				{ body: 'main' },
				{ contentType: 'text/plain; charset=big5', disposition: 'attachment; filename="a.txt"', body: 'x' },
				{ contentType: 'message/rfc822', disposition: 'inline', body: nested }
			]
		});
		expect((await diagnose(raw)).charsets).toEqual(['utf-8', 'koi8-r']);
	});
});

describe('garbled: mislabelled 8-bit bytes', () => {
	it('flags UTF-8 bytes declared as a single-byte charset', async () => {
		const result = await diagnose(buildMessage({ parts: [{ contentType: 'text/plain; charset=windows-1252', transferEncoding: '8bit', body: 'Café' }] }));
		expect(result.garbled).toBe(true);
		expect(result.findings[0]).toMatch(/declared windows-1252 contains UTF-8 byte sequences \(mojibake such as 'Ã©' for 'é'\)/);
	});

	it('control: real Latin-1 bytes declared iso-8859-1 are fine', async () => {
		const result = await diagnose(buildMessage({ parts: [{ contentType: 'text/plain; charset=iso-8859-1', transferEncoding: '8bit', body: latin1('São Paulo, Ação, café, Müller, © £ ½') }] }));
		expect(result).toMatchObject({ garbled: false, findings: [] });
	});

	it('flags Latin-1 bytes declared UTF-8', async () => {
		const result = await diagnose(buildMessage({ parts: [{ transferEncoding: '8bit', body: latin1('café crème') }] }));
		expect(result.garbled).toBe(true);
		expect(result.findings).toEqual([expect.stringMatching(/declared utf-8 contains bytes that are not valid UTF-8/), '2 replacement characters (U+FFFD) in the decoded text.']);
	});

	it('control: UTF-8 declared UTF-8, in base64', async () => {
		const result = await diagnose(buildMessage({ parts: [{ transferEncoding: 'base64', body: btoa('caf\xc3\xa9 cr\xc3\xa8me') }] }));
		expect(result).toMatchObject({ charsets: ['utf-8'], garbled: false, findings: [] });
	});

	it('flags 8-bit non-UTF-8 bytes without a declared charset', async () => {
		const result = await diagnose(buildMessage({ parts: [{ contentType: 'text/plain', transferEncoding: '8bit', body: latin1('café') }] }));
		expect(result.garbled).toBe(true);
		expect(result.findings[0]).toMatch(/declares no charset and contains 8-bit bytes that are not UTF-8/);
	});
});

describe('garbled: unknown charsets', () => {
	it('notes an unknown label over plain ASCII without calling it garbled', async () => {
		const result = await diagnose(buildMessage({ parts: [{ contentType: 'text/plain; charset=foo-bar', body: 'plain ascii' }] }));
		expect(result).toMatchObject({ charsets: ['foo-bar'], garbled: false });
		expect(result.findings).toEqual([expect.stringMatching(/unknown charset 'foo-bar'; harmless here/)]);
	});

	it.each(['cp1252', 'x-sjis', 'ks_c_5601-1987', 'iso-8859-8-i', 'windows-31j', 'cp932', 'latin1'])('control: %s is a label postal-mime decodes', async (label) => {
		const result = await diagnose(buildMessage({ parts: [{ contentType: `text/plain; charset=${label}`, body: 'plain ascii' }] }));
		expect(result.findings).toEqual([]);
	});
});

describe('garbled: the decoded text', () => {
	it('counts replacement characters already in the content', async () => {
		const result = await diagnose(buildMessage({ parts: [{ body: 'Gr\ufffd\ufffde' }] }));
		expect(result).toMatchObject({ garbled: true, findings: ['2 replacement characters (U+FFFD) in the decoded text.'] });
	});

	it('flags mojibake that arrives correctly labelled (damage done upstream)', async () => {
		const result = await diagnose(buildMessage({ parts: [{ body: 'Ã‰tÃ© trÃ¨s chaud' }] }));
		expect(result.garbled).toBe(true);
		expect(result.findings).toEqual([expect.stringMatching(/3 mojibake sequences .* \('Ã‰', 'Ã©', 'Ã¨'\)/)]);
	});

	it('flags one three-character sequence such as â€™', async () => {
		const result = await diagnose(buildMessage({ parts: [{ contentType: 'text/html; charset=utf-8', body: '<p>We donâ€™t know</p>' }] }));
		expect(result.garbled).toBe(true);
	});

	it('control: a single pair is not enough, and real accents never match', async () => {
		for (const body of ['cafÃ© once', 'São João, Ação, Ñandú, Größe, déjà vu, ÀÉÎÕÜ, «guillemets», Nº 5, 25°C, ½ €', 'Ελληνικά, русский, 日本語']) {
			const result = await diagnose(buildMessage({ parts: [{ body }] }));
			expect(result, body).toMatchObject({ garbled: false, findings: [] });
		}
	});
});

describe('blank', () => {
	it('is blank without any body part, and says how many attachments there are', async () => {
		const result = await diagnose(buildMessage({ parts: [{ contentType: 'application/pdf', disposition: 'attachment; filename="a.pdf"', transferEncoding: 'base64', body: 'JVBERi0xLjQK' }] }));
		expect(result.blank).toBe(true);
		expect(result.findings).toEqual(['The message has no text or HTML body with visible content (it has 1 attachment).']);
	});

	it('is blank with whitespace and zero-width characters only', async () => {
		expect((await diagnose(buildMessage({ parts: [{ body: ' \n\t\u00a0\u200b\ufeff\n' }] }))).blank).toBe(true);
	});

	it('is blank with HTML of markup, comments, styles and &nbsp; only', async () => {
		const html = '<html><head><title>Hi</title><style>p{color:red}</style></head><body><!-- x --><p>&nbsp;</p><div>&#160;<br/></div><script>var a = 1;</script></body></html>';
		expect((await diagnose(buildMessage({ parts: [{ contentType: 'text/html; charset=utf-8', body: html }] }))).blank).toBe(true);
	});

	it('control: one visible character, or an image, is content', async () => {
		expect((await diagnose(buildMessage({ parts: [{ contentType: 'text/html; charset=utf-8', body: '<p>&nbsp;.</p>' }] }))).blank).toBe(false);
		expect((await diagnose(buildMessage({ parts: [{ contentType: 'text/html; charset=utf-8', body: '<p><img src="cid:shot"></p>' }] }))).blank).toBe(false);
		expect((await diagnose(buildMessage({ parts: [{ body: 'ok' }] }))).blank).toBe(false);
	});
});

describe('hostile structure', () => {
	it('survives a deep multipart and an unterminated one', async () => {
		let body = 'Content-Type: text/plain\r\n\r\ndeep';
		for (let i = 0; i < 50; i++) body = `Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\n${body}\r\n--b${i}--\r\n`;
		const raw = new TextEncoder().encode(`From: a@b.example\r\nTo: c@d.example\r\nSubject: deep\r\n${body}`);
		await expect(diagnose(raw)).resolves.toMatchObject({ garbled: false });
		const open = new TextEncoder().encode('From: a@b.example\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain; charset=koi8-r\r\n\r\nhello');
		expect((await diagnose(open)).charsets).toEqual(['koi8-r']);
	});
});
