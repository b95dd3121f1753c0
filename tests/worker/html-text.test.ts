/// <reference types="vite/client" />
/** htmlToText() for HTML-only mail (SPEC §11 `message.received` `text`), and its limits. */
import PostalMime from 'postal-mime';
import { describe, expect, it } from 'vitest';
import { HTML_TEXT_MAX_INPUT_CHARS, HTML_TEXT_MAX_NESTING, htmlToText } from '../../worker/mail/html-text';
import { extractReply } from '../../worker/webhooks/reply-text';

const messages = import.meta.glob<string>('../fixtures/replies/html/*.eml', { query: '?raw', import: 'default', eager: true });
const expectations = import.meta.glob<string>('../fixtures/replies/html/*.expected.txt', { query: '?raw', import: 'default', eager: true });

describe('htmlToText', () => {
	it.each([
		['a link as text and address', '<p>See <a href="https://acme.example.com/x">our page</a>.</p>', 'See our page [https://acme.example.com/x].'],
		['a link that is its own text once', '<a href="https://acme.example.com/x">https://acme.example.com/x</a>', 'https://acme.example.com/x'],
		['a mailto link once', '<a href="mailto:max@kunde.example">max@kunde.example</a>', 'max@kunde.example'],
		['an in-page link as its text', '<a href="#top">Back to top</a>', 'Back to top'],
		['an image as its alt text', '<p>Logo: <img src="https://cdn.example/logo.png" alt="Acme"></p>', 'Logo: Acme'],
		['an image without alt as nothing', '<p>Hi<img src="https://t.example/open.gif" width="1" height="1"></p>', 'Hi'],
		['entities decoded', '<p>Gr&uuml;&szlig;e &amp; &lt;Dank&gt; &#8211; &euro;5</p>', 'Grüße & <Dank> – €5'],
		['white space collapsed', '<div>one   two\n\n   three</div>', 'one two three'],
		['runs of breaks as one blank line', '<div>one<br><br><br><br><br>two</div>', 'one\n\ntwo'],
		['no-break space paragraphs as blank lines', '<p>one</p><p>&nbsp;</p><p>&nbsp;&nbsp;</p><p>two</p>', 'one\n\ntwo'],
		['headings as written', '<h1>Order status</h1><p>Shipped.</p>', 'Order status\n\nShipped.'],
		['lists with bullets', '<ul><li>one</li><li>two</li></ul>', ' * one\n * two'],
		['a blockquote quoted', '<div>Yes.</div><blockquote>Does Tuesday work?</blockquote>', 'Yes.\n\n> Does Tuesday work?'],
		['no script, style, head or template content', '<html><head><title>T</title><style>p{}</style></head><body><script>x()</script><noscript>n</noscript><template>t</template><p>Body</p></body></html>', 'Body'],
		['a data table in columns', '<table><tr><th>Item</th><th>Qty</th></tr><tr><td>Toner</td><td>4</td></tr></table>', 'Item    Qty\nToner   4'],
		[
			'a layout table cell by cell',
			'<table role="presentation"><tr><td><p>Left column text</p></td><td><p>Right column text</p></td></tr></table>',
			'Left column text\n\nRight column text'
		],
		[
			'tables within tables cell by cell',
			'<table><tr><td><table><tr><td>Inner one</td><td>Inner two</td></tr></table></td></tr></table>',
			'Inner one\nInner two'
		],
		['nothing as nothing', '<html><body> &nbsp; <br></body></html>', '']
	])('renders %s', (_name, html, text) => {
		expect(htmlToText(html)).toBe(text);
	});

	it('renders an Outlook HTML-only reply as Outlook shows it, and its reply without the history', async () => {
		const names = Object.keys(messages);
		expect(names.length).toBeGreaterThan(0);
		for (const path of names) {
			const parsed = await PostalMime.parse(messages[path]!, { rfc822Attachments: true });
			expect(parsed.text, path).toBeUndefined();
			const text = htmlToText(parsed.html!);
			const expected = expectations[path.replace(/\.eml$/, '.expected.txt')]!.replace(/\r\n/g, '\n').trimEnd();
			expect(text, path).toBe(expected);
			// The reply parser reads the rendition: the header block ("Von: ... Gesendet: ...") ends it.
			const history = expected.search(/^(?:From|Von|De) ?:/m);
			expect(history, path).toBeGreaterThan(0);
			expect(extractReply(text), path).toBe(expected.slice(0, history).trimEnd());
		}
	});
});

describe('htmlToText on hostile HTML', () => {
	it('reads no further than HTML_TEXT_MAX_INPUT_CHARS', () => {
		const filler = '<p>filler paragraph</p>'.repeat(Math.ceil(HTML_TEXT_MAX_INPUT_CHARS / 23));
		const text = htmlToText(`<p>first words</p>${filler}<p>past the limit</p>`);
		expect(text.startsWith('first words')).toBe(true);
		expect(text).not.toContain('past the limit');
	});

	it.each([
		['<b>', '<b>'],
		['<div>', '<div>'],
		['<ul><li>', '<ul><li>'],
		['<table><tr><td>', '<table><tr><td>'],
		['<div> with stray end tags', '<div></span>']
	])('cuts nesting of %s past HTML_TEXT_MAX_NESTING', (_name, unit) => {
		// htmlparser2 opens these in quadratic time: 100,000 levels took it minutes.
		const html = `<p>before</p>${unit.repeat(100_000)}deep inside`;
		const text = htmlToText(html);
		expect(text.startsWith('before')).toBe(true);
		expect(text).not.toContain('deep inside');
	});

	it('keeps text after deep but closed nesting below the limit', () => {
		const depth = HTML_TEXT_MAX_NESTING - 10;
		const text = htmlToText(`${'<div>'.repeat(depth)}inside${'</div>'.repeat(depth)}<p>after</p>`);
		expect(text).toContain('after');
	});

	it.each(['100000', '1e9', 'Infinity'])('caps colspan and rowspan of %s', (span) => {
		const html = `<table><tr><td colspan="${span}">wide</td><td rowspan="${span}">tall</td></tr><tr><td>next row</td></tr></table>`;
		const text = htmlToText(html);
		expect(text).toContain('wide');
		expect(text).toContain('tall');
		expect(text).toContain('next row');
		expect(text.length).toBeLessThan(2000);
	});
});
