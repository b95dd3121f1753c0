/**
 * Content through the real email() handler (SPEC §5.5, §5.6): bodies in legacy charsets and
 * transfer encodings, RFC 2047 encoded words, the garbled and blank diagnoses, broken MIME
 * structure, and hostile HTML. Each message is read back through /api/messages/:id, so what
 * is asserted is what an admin sees.
 *
 * Senders are at names the loopback DoH server answers NXDOMAIN for: SPF and DMARC are
 * `none`, so every message here is accepted and its content stored.
 */
import crypto from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildMessage, latin1, type MessageOptions } from './build-message';
import { deliver } from './deliver';
import { call, createIntegration, mailboxInput } from './helpers';

const ZONE = `z${crypto.randomBytes(4).toString('hex')}.test`;
const SENDER = `customer@shop.${ZONE}`;
let serviceAddress: string;

beforeAll(async () => {
	const integration = await createIntegration();
	serviceAddress = `support-${crypto.randomBytes(3).toString('hex')}@helpdesk.${ZONE}`;
	const created = await call('POST', '/api/mailboxes', { body: mailboxInput(integration.id, { address: serviceAddress }) });
	expect(created.status).toBe(201);
});

/** Delivers and returns the stored detail; fails the test if the message was not accepted. */
async function store(raw: Uint8Array | string) {
	const { rejected, item } = await deliver(raw, { from: SENDER, to: serviceAddress, hopIp: '198.51.100.7' });
	expect(rejected).toBeNull();
	expect(item).toMatchObject({ verdict: 'accepted' });
	const detail = await call('GET', `/api/messages/${item.id}`);
	expect(detail.status).toBe(200);
	return detail.body;
}

const messageId = () => `${crypto.randomUUID()}@shop.${ZONE}`;
const build = (options: MessageOptions) => buildMessage({ from: `Customer <${SENDER}>`, to: serviceAddress, messageId: messageId(), ...options });

/** Bytes from a hex dump, for bodies written in charsets TextEncoder cannot produce. */
const hex = (dump: string) => Uint8Array.from(dump.trim().split(/\s+/), (byte) => parseInt(byte, 16));

/** A message written out by hand, for structures buildMessage will not produce (CRLF line ends). */
function handWritten(headers: string, body: string): string {
	const top = `From: Customer <${SENDER}>\nTo: ${serviceAddress}\nSubject: broken\nMessage-ID: <${messageId()}>\nDate: Tue, 24 Nov 2026 09:00:00 +0000\nMIME-Version: 1.0\n`;
	return `${top}${headers}\n\n${body}`.replace(/\r?\n/g, '\r\n');
}

describe('bodies in legacy charsets and transfer encodings', () => {
	it('decodes an 8-bit ISO-8859-1 body', async () => {
		const detail = await store(build({ parts: [{ contentType: 'text/plain; charset=ISO-8859-1', transferEncoding: '8bit', body: latin1('Olá, não recebi a encomenda. Grüße, André') }] }));
		expect(detail.text.trim()).toBe('Olá, não recebi a encomenda. Grüße, André');
		expect(detail.encoding).toEqual({ charsets: ['iso-8859-1'], garbled: false, blank: false });
		expect(detail.encodingFindings).toEqual([]);
	});

	it('decodes a UTF-7 body (unicode-1-1-utf-7, which the platform cannot decode) instead of showing it encoded', async () => {
		// "Grüße, my order <A-17> & the invoice +1" in UTF-7 (RFC 2152): ü ß < > & + are encoded.
		const detail = await store(build({ parts: [{ contentType: 'text/plain; charset=unicode-1-1-utf-7', transferEncoding: '7bit', body: 'Gr+APwA3w-e, my order +ADw-A-17+AD4- +ACY- the invoice +-1' }] }));
		expect(detail.text.trim()).toBe('Grüße, my order <A-17> & the invoice +1');
		expect(detail.encoding).toEqual({ charsets: ['unicode-1-1-utf-7'], garbled: false, blank: false });
		expect(detail.encodingFindings).toEqual([]);
	});

	it('decodes a base64 Shift_JIS body', async () => {
		// 注文がまだ届きません。 in Shift_JIS: 92 8d 95 b6 82 aa 82 dc 82 be 93 cd 82 ab 82 dc 82 b9 82 f1 81 42
		const detail = await store(build({ parts: [{ contentType: 'text/plain; charset=Shift_JIS', transferEncoding: 'base64', body: 'ko2VtoKqgtyCvpPNgquC3IK5gvGBQg==\n' }] }));
		expect(detail.text.trim()).toBe('注文がまだ届きません。');
		expect(detail.encoding).toEqual({ charsets: ['shift_jis'], garbled: false, blank: false });
	});

	it('decodes an 8-bit GB2312 body', async () => {
		// 您好，我的订单还没有到。 in GB2312.
		const body = hex('c4 fa ba c3 a3 ac ce d2 b5 c4 b6 a9 b5 a5 bb b9 c3 bb d3 d0 b5 bd a1 a3 0d 0a');
		const detail = await store(build({ parts: [{ contentType: 'text/plain; charset="gb2312"', transferEncoding: '8bit', body }] }));
		expect(detail.text.trim()).toBe('您好，我的订单还没有到。');
		expect(detail.encoding).toEqual({ charsets: ['gb2312'], garbled: false, blank: false });
	});

	it('decodes a quoted-printable KOI8-R body, soft line break included', async () => {
		// Здравствуйте, мой заказ не пришёл. in KOI8-R; "=\n" is a soft break (RFC 2045 §6.7 rule 5).
		const body = '=FA=C4=D2=C1=D7=D3=D4=D7=D5=CA=D4=C5, =CD=CF=CA =DA=C1=CB=C1=DA =CE=C5 =D0=\n=D2=C9=DB=A3=CC.\n';
		const detail = await store(build({ parts: [{ contentType: 'text/plain; charset=koi8-r', transferEncoding: 'quoted-printable', body }] }));
		expect(detail.text.trim()).toBe('Здравствуйте, мой заказ не пришёл.');
		expect(detail.encoding).toEqual({ charsets: ['koi8-r'], garbled: false, blank: false });
	});

	// The base64 UTF-8 part ends in a one-byte group (`uw==`, the second byte of ł): the diagnosis
	// must decode it, or it sees a cut sequence and reports valid UTF-8 as garbled.
	it('decodes each part of a multipart from its own charset and lists every label', async () => {
		const detail = await store(
			build({
				multipart: 'alternative',
				parts: [
					{ contentType: 'text/plain; charset=utf-8', transferEncoding: 'base64', body: '0JfQsNC60LDQtyDihJY0MiDQvdC1INC/0YDQuNGI0ZHQuw==\n' },
					{ contentType: 'text/html; charset=iso-8859-1', transferEncoding: 'quoted-printable', body: '<p>Encomenda n=E3o recebida</p>\n' }
				]
			})
		);
		expect(detail.text.trim()).toBe('Заказ №42 не пришёл');
		expect(detail.html).toContain('<p>Encomenda não recebida</p>');
		expect(detail.encoding).toEqual({ charsets: ['utf-8', 'iso-8859-1'], garbled: false, blank: false });
	});
});

describe('RFC 2047 encoded words in Subject and From', () => {
	it.each([
		['ISO-8859-1 Q', '=?ISO-8859-1?Q?Andr=E9?= Silva', '=?iso-8859-1?q?Encomenda_n=E3o_recebida?=', 'André Silva', 'Encomenda não recebida'],
		['UTF-8 B', '=?UTF-8?B?0JjQstCw0L0=?=', '=?UTF-8?B?0JfQsNC60LDQtyDihJY0MiDQvdC1INC/0YDQuNGI0ZHQuw==?=', 'Иван', 'Заказ №42 не пришёл'],
		['Shift_JIS B', '=?Shift_JIS?B?jlKTY5G+mFk=?=', '=?Shift_JIS?B?ko2VtoLJgsKCooLE?=', '山田太郎', '注文について'],
		// RFC 2047 §6.2: white space between adjacent encoded words is not displayed.
		['adjacent words in two charsets', '=?GB2312?B?1cXI/Q==?= =?KOI8-R?Q?=E9=D7=C1=CE?=', 'Re: =?UTF-8?Q?caf=C3=A9?= =?ISO-8859-1?Q?_cr=E8me?=', '张三Иван', 'Re: café crème']
	])('%s', async (_name, fromName, subject, expectedName, expectedSubject) => {
		const { rejected, item } = await deliver(build({ from: `${fromName} <${SENDER}>`, subject, parts: [{ body: 'Hello' }] }), { from: SENDER, to: serviceAddress, hopIp: '198.51.100.7' });
		expect(rejected).toBeNull();
		expect(item.subject).toBe(expectedSubject);
		expect(item.from).toEqual({ address: SENDER, name: expectedName });
		expect(item.encoding).toEqual({ charsets: ['utf-8'], garbled: false, blank: false });
	});
});

describe('garbled and blank diagnoses', () => {
	it('flags a UTF-8 label over Latin-1 bytes as garbled, with a finding naming the part', async () => {
		const detail = await store(build({ parts: [{ contentType: 'text/plain; charset=utf-8', transferEncoding: '8bit', body: latin1('Não recebi a encomenda, André') }] }));
		expect(detail.encoding).toEqual({ charsets: ['utf-8'], garbled: true, blank: false });
		expect(detail.encodingFindings).toEqual(expect.arrayContaining([expect.stringMatching(/^text\/plain declared utf-8 contains bytes that are not valid UTF-8/)]));
		// Stored as decoded, not repaired (SPEC §5.5): the admin sees what the customer's client sent.
		expect(detail.text).toContain('N\ufffdo recebi');
	});

	it('flags a message without a body as blank, not garbled', async () => {
		const detail = await store(build({}));
		expect(detail.encoding).toMatchObject({ garbled: false, blank: true });
		expect(detail.encodingFindings).toEqual([expect.stringMatching(/no text or HTML body with visible content/)]);
		expect(detail.text).toBeNull();
	});

	it('flags a body of only white space and an empty HTML part as blank', async () => {
		const detail = await store(
			build({ multipart: 'alternative', parts: [{ body: ' \n\u00a0\n' }, { contentType: 'text/html; charset=utf-8', body: '<html><body><p>&nbsp;</p></body></html>' }] })
		);
		expect(detail.encoding).toEqual({ charsets: ['utf-8'], garbled: false, blank: true });
	});
});

describe('broken MIME structure is stored, with what could be recovered', () => {
	it('a multipart without its closing delimiter keeps every part', async () => {
		const raw = handWritten(
			'Content-Type: multipart/mixed; boundary="b1"',
			'--b1\nContent-Type: text/plain; charset=utf-8\n\nFirst part.\n--b1\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\nSegunda parte: n=E3o chegou.\n'
		);
		const detail = await store(raw);
		expect(detail.text).toContain('First part.');
		expect(detail.text).toContain('Segunda parte: não chegou.');
		expect(detail.encoding).toEqual({ charsets: ['utf-8', 'iso-8859-1'], garbled: false, blank: false });
	});

	it('a multipart whose boundary never appears is stored without throwing', async () => {
		const raw = handWritten('Content-Type: multipart/mixed; boundary="never-used"', '--other\nContent-Type: text/plain\n\nWhere is my order?\n--other--\n');
		const detail = await store(raw);
		// Nothing is delimited, so there is no body part: recorded as blank rather than guessed at.
		expect(detail.encoding).toMatchObject({ charsets: [], blank: true });
		expect(detail.headers).toContain('boundary="never-used"');
	});

	it('nested parts with bad headers do not stop the good part being stored', async () => {
		const raw = handWritten(
			'Content-Type: multipart/mixed; boundary="outer"',
			[
				'--outer',
				'Content-Type: multipart/alternative; boundary="inner"',
				'',
				'--inner',
				'this header line has no colon',
				'Content-Type: text/plain; charset=utf-8',
				'',
				'The good part survives.',
				'--inner',
				'Content-Type: text/html; charset=',
				'Content-Transfer-Encoding: base64',
				'',
				'!!!not base64 at all***',
				'--inner--',
				'--outer',
				'Content-Type: multipart/related',
				'',
				'a multipart without a boundary parameter',
				'--outer',
				'Content-Type: ; ; ;',
				'Content-Disposition: attachment; filename="=?bogus?Q?x?="',
				'',
				'junk',
				'--outer--',
				''
			].join('\n')
		);
		const detail = await store(raw);
		expect(detail.text).toContain('The good part survives.');
		expect(detail.encoding.charsets).toContain('utf-8');
	});
});

describe('hostile HTML is stored without its active content', () => {
	const hostile = [
		'<html><head>',
		'<meta http-equiv="refresh" content="0;url=https://evil.example/">',
		'<style>p { color: #333333; }</style>',
		'<style>body { background: expression(alert(1)); }</style>',
		'<style>div { width: exp/**/r\\65 ssion(alert(1)); }</style>',
		'<style>html { scroll-behavior: smooth; }</style>',
		'<script>steal(document.cookie)</script>',
		'</head><body onload="steal()">',
		'<p class="lead" style="color: red">Hello, <b>my order</b> is <i>late</i>.</p>',
		'<table border="1"><tr><td>Order</td><td>42</td></tr></table>',
		'<a href="https://shop.example/orders/42" title="order">order 42</a>',
		'<a href="mailto:help@shop.example">mail us</a>',
		'<img src="cid:logo@shop.example" alt="logo" onerror="steal()">',
		'<a href="javascript:steal()">js</a>',
		'<a href=" JaVaScRiPt:steal()">spaced js</a>',
		'<a href="java&#x09;script:steal()">tab-entity js</a>',
		'<a href="&#106;avascript&colon;steal()">entity js</a>',
		'<a href="data:text/html;base64,PHNjcmlwdD5zdGVhbCgpPC9zY3JpcHQ+">data html</a>',
		'<iframe src="https://evil.example/frame"></iframe>',
		'<object data="https://evil.example/x.swf"><embed src="https://evil.example/x.swf"></object>',
		'<svg onload="steal()"><circle r="1"/></svg>',
		'<div style="width: expression(alert(1))">styled</div>',
		'<div style="background: url(&#106;avascript:steal())">entity styled</div>',
		'<form action="https://evil.example/"><input name="password"></form>',
		'</body></html>'
	].join('\n');

	it('removes scripts, handlers, active elements and dangerous URLs, and keeps harmless markup', async () => {
		const detail = await store(build({ parts: [{ contentType: 'text/html; charset=utf-8', body: hostile }] }));
		const html: string = detail.html;
		for (const banned of [/<script/i, /steal/i, /alert/i, /\son\w+\s*=/i, /javascript/i, /&#106;|&colon;|&#x09;/i, /<iframe/i, /<object/i, /<embed/i, /<svg/i, /expression\s*\(/i, /<meta/i, /http-equiv/i, /data:text\/html/i, /<form/i, /<input/i]) {
			expect(html, `${banned} in stored HTML`).not.toMatch(banned);
		}
		expect(html).toContain('<p class="lead" style="color: red">Hello, <b>my order</b> is <i>late</i>.</p>');
		expect(html).toContain('<table border="1"><tr><td>Order</td><td>42</td></tr></table>');
		expect(html).toContain('<a href="https://shop.example/orders/42" title="order">order 42</a>');
		expect(html).toContain('<a href="mailto:help@shop.example">mail us</a>');
		expect(html).toContain('<img src="cid:logo@shop.example" alt="logo">');
		expect(html).toContain('<style>p { color: #333333; }</style>');
		expect(html).toContain('<style>html { scroll-behavior: smooth; }</style>');
		expect(html).toContain('<div>styled</div>');
		expect(html).toContain('<div>entity styled</div>');
		// The links lose only their URL; their text is still there to read.
		expect(html).toMatch(/<a>tab-entity js<\/a>/);
		expect(html).toMatch(/<a>entity js<\/a>/);
		expect(html).toMatch(/<a>data html<\/a>/);
	});
});
