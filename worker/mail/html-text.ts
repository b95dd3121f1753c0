/**
 * HTML to text, one converter in two modes. `text` (the default) is the plain-text rendition
 * of an HTML-only message (SPEC §11 `message.received` `text`, the log row), made by
 * html-to-text: links as "text [url]", images as their alt text, data tables as aligned
 * columns, layout tables as blocks, no script, style or head content. `lines` is a cheap view
 * for line-based matching (a bounce's notice, a forwarded block's separator): block ends
 * become line breaks, tags go, nothing is laid out. Pure.
 */
import { compile, type DomNode, type FormatCallback } from 'html-to-text';

/**
 * HTML read, in characters; the rest is cut before parsing (`html.length` above this means the
 * text is partial). Gmail clips messages over 102 KB, so senders keep mail below it; what lies
 * past it is a newsletter's bulk or an old thread's history. Converting this much ordinary
 * HTML takes up to about 0.3 s.
 */
export const HTML_TEXT_MAX_INPUT_CHARS = 128 * 1024;

/**
 * Open elements allowed before the input is cut at the tag that opens one more. htmlparser2
 * keeps its open elements in an array it `unshift`s, so nesting costs quadratic time: 128 KiB
 * of `<b>` (43,000 levels) took over a second. Far deeper than any real message.
 */
export const HTML_TEXT_MAX_NESTING = 1000;

/**
 * Element depth rendered; deeper content becomes "...". html-to-text walks the tree
 * recursively, so this keeps a hostile nesting from exhausting the stack. Quoted threads nest
 * three or four elements per reply (Gmail's gmail_quote/blockquote/div, Outlook's
 * divRplyFwdMsg), so a real thread of dozens of replies stays well within it.
 */
export const HTML_TEXT_MAX_DEPTH = 256;

/**
 * Largest colspan or rowspan honoured in a data table. html-to-text lays a table out cell by
 * cell for every spanned column and row: `colspan="100000"` takes it tens of seconds and then
 * overflows the stack. No real table spans more columns than this.
 */
const MAX_TABLE_SPAN = 64;

/** HTML void elements: no end tag, so they never nest. */
const VOID_ELEMENTS = new Set(['area', 'base', 'basefont', 'br', 'col', 'embed', 'frame', 'hr', 'img', 'input', 'keygen', 'link', 'meta', 'param', 'source', 'track', 'wbr']);

/** Start tags that close these open elements first (the common part of htmlparser2's `openImpliesClose`). */
const IMPLIED_ENDS: Record<string, ReadonlySet<string>> = {
	p: new Set(['p']),
	li: new Set(['li']),
	dt: new Set(['dt', 'dd']),
	dd: new Set(['dt', 'dd']),
	tr: new Set(['tr', 'td', 'th']),
	td: new Set(['td', 'th']),
	th: new Set(['td', 'th']),
	option: new Set(['option'])
};

const TAG = /<(\/?)([a-zA-Z][^\s/>]*)/g;

/**
 * The HTML up to the tag that would open more than HTML_TEXT_MAX_NESTING elements. A linear
 * scan that follows the parser's nesting closely enough: it sees every tag the parser sees
 * (and some it would not, inside comments or <style>), so it never counts fewer levels.
 */
function cutDeepNesting(html: string): string {
	const open: string[] = [];
	for (const match of html.matchAll(TAG)) {
		const name = match[2]!.toLowerCase();
		if (match[1] === '/') {
			// An end tag closes its element and everything opened inside it; a stray one nothing.
			const at = open.lastIndexOf(name);
			if (at !== -1) open.length = at;
			continue;
		}
		if (VOID_ELEMENTS.has(name)) continue;
		const ends = IMPLIED_ENDS[name];
		while (ends && open.length > 0 && ends.has(open.at(-1)!)) open.pop();
		open.push(name);
		if (open.length > HTML_TEXT_MAX_NESTING) return html.slice(0, match.index);
	}
	return html;
}

/** Elements whose content is never text: html-to-text already skips `<script>` and `<style>`. */
const SKIPPED = ['head', 'title', 'noscript', 'template', 'object', 'svg', 'map'];

const isTag = (node: DomNode): boolean => node.type === 'tag';

function* descendants(node: DomNode): Generator<DomNode> {
	const stack = [...(node.children ?? [])];
	while (stack.length > 0) {
		const next = stack.pop()!;
		yield next;
		if (next.children) stack.push(...next.children);
	}
}

/** The cells of a data table, or null for a layout table. */
function dataCells(table: DomNode): DomNode[] | null {
	const role = String(table.attribs?.role ?? '').toLowerCase();
	if (role === 'presentation' || role === 'none') return null;
	for (let outer = table.parent; outer; outer = outer.parent) {
		if (outer.name === 'table') return null;
	}
	const cells: DomNode[] = [];
	for (const node of descendants(table)) {
		if (!isTag(node)) continue;
		// Stop at the first inner table: this one is layout, and nested tables are visited again.
		if (node.name === 'table') return null;
		if (node.name === 'td' || node.name === 'th') cells.push(node);
	}
	return cells;
}

/** An image is its alt text, if any: the address of a logo, tracking pixel or cid: part says nothing. */
const imageAlt: FormatCallback = (elem, _walk, builder) => {
	const alt = String(elem.attribs?.alt ?? '').trim();
	if (alt !== '') builder.addInline(alt);
};

/**
 * A table of data (prices, order lines) reads best as aligned columns; a layout table (a
 * newsletter's grid: `role="presentation"`, a table holding or held by another) as its cells
 * one below the other, since columns of paragraphs side by side interleave line by line.
 */
const mailTable: FormatCallback = (elem, walk, builder, formatOptions) => {
	const cells = dataCells(elem);
	if (cells === null) {
		builder.options.formatters.block!(elem, walk, builder, formatOptions);
		return;
	}
	for (const cell of cells) {
		for (const span of ['colspan', 'rowspan']) {
			// html-to-text reads a span as `+value || 1`, so "1e9" and "Infinity" count as numbers.
			const value = Number(cell.attribs?.[span]);
			if (value > MAX_TABLE_SPAN) cell.attribs[span] = String(MAX_TABLE_SPAN);
			else if (value < 1) cell.attribs[span] = '1';
		}
	}
	builder.options.formatters.dataTable!(elem, walk, builder, formatOptions);
};

const convert = compile({
	// The help desk wraps lines itself.
	wordwrap: false,
	// We cut the input ourselves (html-to-text would also write a warning to stderr).
	limits: { maxInputLength: undefined, maxDepth: HTML_TEXT_MAX_DEPTH },
	formatters: { imageAlt, mailTable },
	selectors: [
		{ selector: 'a', options: { hideLinkHrefIfSameAsText: true } },
		{ selector: 'img', format: 'imageAlt' },
		// Outlook (Word's HTML) styles every paragraph p.MsoNormal {margin:0} and writes a blank
		// line as an empty paragraph (<p class=MsoNormal>&nbsp;</p>): one line each, as it shows.
		{ selector: 'p.MsoNormal', format: 'paragraph', options: { leadingLineBreaks: 1, trailingLineBreaks: 1 } },
		{ selector: 'table', format: 'mailTable', options: { uppercaseHeaderCells: false, maxColumnWidth: 40 } },
		// Cells of layout tables (data tables lay out their own cells).
		{ selector: 'td', format: 'block', options: { leadingLineBreaks: 1, trailingLineBreaks: 1 } },
		{ selector: 'th', format: 'block', options: { leadingLineBreaks: 1, trailingLineBreaks: 1 } },
		...['h1', 'h2', 'h3', 'h4', 'h5', 'h6'].map((selector) => ({ selector, options: { uppercase: false } })),
		...SKIPPED.map((selector) => ({ selector, format: 'skip' }))
	]
});

/**
 * HTML read in `lines` mode, in characters: mailers and mail clients put what is looked for
 * (a notice's words, a returned message's headers, a "Forwarded message" separator) near the top.
 */
export const HTML_LINES_MAX_INPUT_CHARS = 64 * 1024;

export type HtmlTextMode = 'text' | 'lines';

export function htmlToText(html: string, options: { mode?: HtmlTextMode } = {}): string {
	if (options.mode === 'lines') return htmlToLines(html.slice(0, HTML_LINES_MAX_INPUT_CHARS));
	const text = convert(cutDeepNesting(html.length > HTML_TEXT_MAX_INPUT_CHARS ? html.slice(0, HTML_TEXT_MAX_INPUT_CHARS) : html));
	return (
		text
			.split('\n')
			// Outlook writes empty paragraphs as <p>&nbsp;</p>: a line of no-break spaces is a blank line.
			.map((line) => line.trimEnd())
			.join('\n')
			// Runs of <br> and empty blocks: at most one blank line.
			.replace(/\n{3,}/g, '\n\n')
			// Blank lines around the text, not the indent of its first line (a list's " * ").
			.replace(/^\n+/, '')
			.trimEnd()
	);
}

/** Block ends become newlines, tags go, the common entities are decoded: enough for line-based matching. */
function htmlToLines(html: string): string {
	return html
		.replace(/<(head|style|script)\b[\s\S]*?(?:<\/\1\s*>|$)/gi, '')
		.replace(/<(?:br|\/p|\/div|\/tr|\/h\d|hr)\b[^>]*>/gi, '\n')
		.replace(/<[^>]*>/g, '')
		.replace(/&nbsp;|&#160;/gi, ' ')
		.replace(/&lt;/gi, '<')
		.replace(/&gt;/gi, '>')
		.replace(/&quot;/gi, '"')
		.replace(/&amp;/gi, '&');
}
