/**
 * Encoding diagnosis of an inbound message (SPEC §5.5): which charsets the body parts
 * declare, and whether the decoded text looks garbled or blank. Content is never
 * rewritten; this only explains what the admin sees, so they can trace the sender (§9).
 *
 * postal-mime decodes each text part from its declared charset but does not report the
 * label, and it falls back to windows-1252 for labels it does not know. So the raw MIME
 * structure is walked here too, with a small header parser, to read each part's
 * `Content-Type` charset parameter (RFC 2045 §5.1) and the bytes it labels.
 */
import type { Email } from 'postal-mime';
import { headerBlockEnd } from '../mail/header-block';
import { isUtf7Label } from '../mail/utf7';

/**
 * Raw bytes walked for the MIME structure. Email Routing delivers up to 25 MiB and a
 * Worker has 128 MB and little CPU; text parts come before attachments in practice, so
 * the first 4 MiB hold every body part worth diagnosing.
 */
export const MAX_RAW_SCAN_BYTES = 4 * 1024 * 1024;
/** Bytes of one text part checked for UTF-8 validity: enough to see a mislabel, cheap to check. */
export const MAX_PART_SCAN_BYTES = 256 * 1024;
/** Characters of decoded text or HTML searched for U+FFFD and mojibake, for the same reason. */
export const MAX_TEXT_SCAN_CHARS = 256 * 1024;
/** MIME parts visited; a crafted message can hold thousands of empty ones. */
export const MAX_MIME_PARTS = 200;
/** Nesting of multiparts and inline message/rfc822 parts, as deep as postal-mime inlines them. */
export const MAX_MIME_DEPTH = 10;
/**
 * Two-character mojibake pairs (`Ã©`) needed before the text counts as garbled. One pair
 * alone can be legitimate (an accented capital before a symbol); two rarely is. A
 * three-character sequence such as `â€™` is specific enough on its own.
 */
export const MIN_MOJIBAKE_PAIRS = 2;
/** Distinct mojibake examples quoted in a finding. */
const MAX_EXAMPLES = 3;

export interface EncodingDiagnosis {
	/** Declared charsets of the body's text parts, lowercased, deduplicated, in document order. */
	charsets: string[];
	/** Decoding produced replacement characters or mojibake, or bytes were decoded by guesswork. */
	garbled: boolean;
	/** Neither a text nor an HTML body with visible content. */
	blank: boolean;
	/** What was found, in sentences an admin can read. */
	findings: string[];
}

export interface DiagnoseEncodingInput {
	/** The message exactly as delivered. */
	raw: ArrayBuffer | Uint8Array;
	/** postal-mime's parse of the same bytes. */
	parsed: Pick<Email, 'text' | 'html' | 'attachments'>;
}

export function diagnoseEncoding({ raw, parsed }: DiagnoseEncodingInput): EncodingDiagnosis {
	const bytes = raw instanceof Uint8Array ? raw : new Uint8Array(raw);
	const findings: string[] = [];
	let garbled = false;

	const truncated = bytes.length > MAX_RAW_SCAN_BYTES;
	const parts = listTextParts(toBinaryString(bytes.subarray(0, MAX_RAW_SCAN_BYTES)));
	if (truncated) findings.push(`Only the first ${MAX_RAW_SCAN_BYTES / 1024 / 1024} MiB of the message was examined for declared charsets.`);

	const charsets: string[] = [];
	for (const part of parts) {
		if (part.charset && !charsets.includes(part.charset)) charsets.push(part.charset);
		const result = diagnosePart(part);
		if (result) {
			findings.push(result.finding);
			garbled ||= result.garbled;
		}
	}

	// The decoded text shows what the admin actually reads, whatever the raw labels say:
	// it also catches damage done upstream (a gateway that already turned é into Ã© and
	// labelled the result UTF-8 correctly).
	const bodies = [parsed.text, parsed.html].map((body) => (body ?? '').slice(0, MAX_TEXT_SCAN_CHARS));
	const replacements = Math.max(...bodies.map(countReplacementCharacters));
	if (replacements > 0) {
		garbled = true;
		findings.push(`${replacements} replacement character${replacements === 1 ? '' : 's'} (U+FFFD) in the decoded text.`);
	}
	const mojibake = bodies.map(findMojibake).reduce((a, b) => (b.count > a.count ? b : a));
	if (mojibake.triples > 0 || mojibake.pairs >= MIN_MOJIBAKE_PAIRS) {
		garbled = true;
		findings.push(
			`The decoded text contains ${mojibake.count} mojibake sequence${mojibake.count === 1 ? '' : 's'} typical of UTF-8 read as Latin-1/Windows-1252 (${mojibake.examples.map((e) => `'${e}'`).join(', ')}).`
		);
	}

	const blank = !hasVisibleText(parsed.text) && !hasVisibleHtml(parsed.html);
	if (blank) {
		const attachments = parsed.attachments.length;
		findings.push(
			`The message has no text or HTML body with visible content${attachments > 0 ? ` (it has ${attachments} attachment${attachments === 1 ? '' : 's'})` : ''}.`
		);
	}

	return { charsets, garbled, blank, findings };
}

// ---------------------------------------------------------------------------------------
// Per-part byte checks

interface TextPart {
	/** `text/plain` or `text/html` */
	type: string;
	/** Declared charset, lowercased, or null when the part declares none. */
	charset: string | null;
	/** Body after the transfer encoding is undone, one char per byte. */
	body: string;
}

function diagnosePart(part: TextPart): { finding: string; garbled: boolean } | null {
	const sample = part.body.slice(0, MAX_PART_SCAN_BYTES);
	// eslint-disable-next-line no-control-regex
	if (!/[^\x00-\x7f]/.test(sample)) {
		// Plain ASCII reads the same in every charset mail uses, so even a bogus label is harmless.
		// UTF-7 is ASCII by design and decoded where it is parsed (parse-mail.ts): nothing to say.
		if (part.charset && !isKnownCharset(part.charset) && !isUtf7Label(part.charset)) {
			return { finding: `${part.type} declares an unknown charset '${part.charset}'; harmless here because the part is plain ASCII.`, garbled: false };
		}
		return null;
	}

	const utf8 = utf8Validity(sample, part.body.length > sample.length);
	if (part.charset === null) {
		// RFC 2045 §5.2 makes an undeclared part US-ASCII; postal-mime reads it as UTF-8.
		if (utf8 === 'invalid') {
			return { finding: `${part.type} declares no charset and contains 8-bit bytes that are not UTF-8, so they decode to replacement characters.`, garbled: true };
		}
		return null;
	}
	if (!isKnownCharset(part.charset)) {
		return {
			finding: `${part.type} declares an unknown charset '${part.charset}'; its 8-bit bytes were decoded as Windows-1252, which is a guess.`,
			garbled: true
		};
	}
	if (isUtf8Label(part.charset)) {
		if (utf8 === 'invalid') {
			return {
				finding: `${part.type} declared ${part.charset} contains bytes that are not valid UTF-8 (often Windows-1252 or ISO-8859-1 text mislabelled as UTF-8).`,
				garbled: true
			};
		}
		return null;
	}
	// A single-byte text (é = 0xE9 before an ASCII letter) is almost never valid UTF-8 by
	// chance, so a non-UTF-8 label over bytes that are valid UTF-8 is a mislabel.
	if (utf8 === 'valid' && !isWideLabel(part.charset)) {
		const example = firstUtf8Sequence(sample);
		return {
			finding: `${part.type} declared ${part.charset} contains UTF-8 byte sequences (mojibake such as '${readAsWindows1252(example)}' for '${new TextDecoder().decode(binaryToBytes(example))}').`,
			garbled: true
		};
	}
	return null;
}

// fatal: any malformed sequence throws instead of becoming U+FFFD.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Called on 8-bit samples only, so 'valid' means well-formed UTF-8 with multi-byte sequences. */
function utf8Validity(binary: string, cut: boolean): 'valid' | 'invalid' {
	try {
		strictUtf8.decode(binaryToBytes(binary));
		return 'valid';
	} catch {
		// A cut sample may end inside a sequence; then only a failure before that sequence counts.
		if (cut) {
			try {
				strictUtf8.decode(binaryToBytes(binary.slice(0, trimToSequenceStart(binary))));
				return 'valid';
			} catch {
				return 'invalid';
			}
		}
		return 'invalid';
	}
}

function trimToSequenceStart(binary: string): number {
	let end = binary.length;
	// Step back over continuation bytes (10xxxxxx) and the lead byte they belong to.
	while (end > 0 && end > binary.length - 4 && (binary.charCodeAt(end - 1) & 0xc0) === 0x80) end--;
	if (end > 0 && binary.charCodeAt(end - 1) >= 0xc0) end--;
	return end;
}

function firstUtf8Sequence(binary: string): string {
	const match = /[\xc2-\xf4][\x80-\xbf]{1,3}/.exec(binary);
	return match ? match[0] : '';
}

function readAsWindows1252(binary: string): string {
	return new TextDecoder('windows-1252').decode(binaryToBytes(binary));
}

function isUtf8Label(charset: string): boolean {
	return /^(?:x-)?(?:utf-?8|unicode-1-1-utf-8)$/.test(charset);
}

/** UTF-16/32 bytes can be anything; the UTF-8 test says nothing about them. */
function isWideLabel(charset: string): boolean {
	return /^(?:utf-?(?:16|32)|ucs-?[24]|unicode)/.test(charset);
}

const knownCharsets = new Map<string, boolean>();
/**
 * Whether postal-mime can decode the label, rather than falling back to windows-1252: the
 * WHATWG labels TextDecoder knows, after the same normalisation postal-mime applies (an
 * `x-`/`cs` prefix and separators removed, code page numbers such as cp932 mapped).
 */
export function isKnownCharset(label: string): boolean {
	let known = knownCharsets.get(label);
	if (known === undefined) {
		const normalized = label.replace(/^(?:x-ms-|x-|cs)/, '').replace(/[\s._-]+/g, '');
		const codePage = /^(?:cp|windows|ms|ibm)(\d+)$/.exec(normalized)?.[1];
		const candidates = [label, normalized, ...(codePage ? [`windows-${codePage}`, CODE_PAGES[codePage] ?? ''] : []), CHARSET_ALIASES[normalized] ?? ''];
		known = candidates.some((candidate) => candidate !== '' && canDecode(candidate));
		// Labels come from the message; the map stays bounded by MAX_MIME_PARTS per call and is dropped past 1000.
		if (knownCharsets.size > 1000) knownCharsets.clear();
		knownCharsets.set(label, known);
	}
	return known;
}

/** postal-mime's own aliases for labels the WHATWG list lacks (src/decode-strings.ts). */
const CHARSET_ALIASES: Record<string, string> = {
	iso88598i: 'iso-8859-8',
	iso88598e: 'iso-8859-8',
	windows31j: 'shift_jis',
	mskanji: 'shift_jis',
	iso2022jp1: 'iso-2022-jp',
	iso2022jp2: 'iso-2022-jp',
	junet: 'iso-2022-jp',
	uhc: 'euc-kr',
	tis620: 'windows-874'
};
const CODE_PAGES: Record<string, string> = { '932': 'shift_jis', '936': 'gbk', '949': 'euc-kr', '950': 'big5', '51932': 'euc-jp', '50220': 'iso-2022-jp' };

function canDecode(label: string): boolean {
	try {
		new TextDecoder(label);
		return true;
	} catch {
		return false;
	}
}

// ---------------------------------------------------------------------------------------
// Decoded-text checks

function countReplacementCharacters(text: string): number {
	let count = 0;
	for (let i = text.indexOf('\ufffd'); i !== -1; i = text.indexOf('\ufffd', i + 1)) count++;
	return count;
}

/**
 * What UTF-8 looks like when read as Windows-1252: a lead byte C2–DF shows as Â–ß and each
 * continuation byte 80–BF as either a Latin-1 symbol (U+00A0–U+00BF) or one of the
 * Windows-1252 specials that 0x80–0x9F map to (€ ‚ ƒ „ … † ‡ ˆ ‰ Š ‹ Œ Ž ‘ ’ “ ” • – — ˜ ™ š › œ ž Ÿ).
 * Legitimate text puts letters, not these symbols, after an accented letter ("São").
 */
const CONTINUATION = '[\\u00a0-\\u00bf\\u20ac\\u201a\\u0192\\u201e\\u2026\\u2020\\u2021\\u02c6\\u2030\\u0160\\u2039\\u0152\\u017d\\u2018\\u2019\\u201c\\u201d\\u2022\\u2013\\u2014\\u02dc\\u2122\\u0161\\u203a\\u0153\\u017e\\u0178\\u0081\\u008d\\u008f\\u0090\\u009d]';
const MOJIBAKE = new RegExp(`[\\u00e0-\\u00ef]${CONTINUATION}{2}|[\\u00c2-\\u00df]${CONTINUATION}`, 'g');

function findMojibake(text: string): { count: number; pairs: number; triples: number; examples: string[] } {
	let pairs = 0;
	let triples = 0;
	const examples: string[] = [];
	for (const [sequence] of text.matchAll(MOJIBAKE)) {
		if (sequence.length === 3) triples++;
		else pairs++;
		if (examples.length < MAX_EXAMPLES && !examples.includes(sequence)) examples.push(sequence);
	}
	return { count: pairs + triples, pairs, triples, examples };
}

/** Letters, digits, punctuation: anything that is not whitespace or an invisible format character. */
const INVISIBLE = /[\s\u00a0\u00ad\u034f\u180e\u200b-\u200f\u2028-\u202f\u205f-\u2064\u3000\ufeff]+/g;

function hasVisibleText(text: string | undefined): boolean {
	return !!text && text.slice(0, MAX_TEXT_SCAN_CHARS).replace(INVISIBLE, '') !== '';
}

/**
 * An HTML body with only markup, whitespace and `&nbsp;` shows nothing. An image does
 * show something (a pasted screenshot is a real message), so `<img>` counts as content.
 */
function hasVisibleHtml(html: string | undefined): boolean {
	if (!html) return false;
	const sample = html.slice(0, MAX_TEXT_SCAN_CHARS);
	if (/<img\b/i.test(sample)) return true;
	const text = sample
		.replace(/<!--[\s\S]*?(?:-->|$)/g, '')
		.replace(/<(head|style|script|title|template)\b[\s\S]*?(?:<\/\1\s*>|$)/gi, '')
		.replace(/<[^>]*>/g, '')
		.replace(/&(?:nbsp|ensp|emsp|thinsp|zwnj|zwj|shy|lrm|rlm|#0*160|#x0*a0|#0*173|#x0*ad|#0*820[3-7]|#x0*200[b-f]|#0*65279|#x0*feff);?/gi, '');
	return text.replace(INVISIBLE, '') !== '';
}

// ---------------------------------------------------------------------------------------
// A small MIME walker: just enough structure to find the text parts and their labels.

/** The text parts postal-mime assembles the body from, with their declared charsets. */
export function listTextParts(message: string): TextPart[] {
	const parts: TextPart[] = [];
	let visited = 0;
	const walk = (entity: string, depth: number, defaultType: string): void => {
		if (++visited > MAX_MIME_PARTS || depth > MAX_MIME_DEPTH) return;
		const { header, body } = splitEntity(entity);
		const fields = parseHeaderFields(header);
		const contentType = parseStructuredValue(fields.get('content-type') ?? defaultType);
		const type = /^[\w.+-]+\/[\w.+-]+$/.test(contentType.value) ? contentType.value : 'text/plain';
		const disposition = parseStructuredValue(fields.get('content-disposition') ?? '').value;

		if (type.startsWith('multipart/')) {
			const boundary = contentType.params.get('boundary');
			if (!boundary) return;
			// RFC 2046 §5.1.5: inside multipart/digest a part without Content-Type is a message.
			const childDefault = type === 'multipart/digest' ? 'message/rfc822' : 'text/plain';
			for (const child of splitMultipart(body, boundary)) walk(child, depth + 1, childDefault);
		} else if (type === 'message/rfc822' || type === 'message/global') {
			// postal-mime shows a nested message inline unless it is an attachment.
			if (disposition !== 'attachment') walk(body, depth + 1, 'text/plain');
		} else if ((type === 'text/plain' || type === 'text/html') && disposition !== 'attachment') {
			const charset = contentType.params.get('charset')?.trim().toLowerCase() || null;
			const encoding = (fields.get('content-transfer-encoding') ?? '').trim().toLowerCase();
			parts.push({ type, charset, body: decodeTransferEncoding(body.slice(0, MAX_PART_SCAN_BYTES * 2), encoding) });
		}
	};
	walk(message, 0, 'text/plain');
	return parts;
}

function splitEntity(entity: string): { header: string; body: string } {
	const end = headerBlockEnd(entity);
	return { header: entity.slice(0, end), body: entity.slice(entity.startsWith('\r\n', end) ? end + 2 : end + 1) };
}

/** RFC 5322 §2.2.3: unfold, and keep the first occurrence of each field (as postal-mime does). */
function parseHeaderFields(header: string): Map<string, string> {
	const fields = new Map<string, string>();
	for (const line of header.replace(/\r?\n(?=[ \t])/g, '').split(/\r?\n/)) {
		const colon = line.indexOf(':');
		if (colon <= 0) continue;
		const name = line.slice(0, colon).trim().toLowerCase();
		if (!fields.has(name)) fields.set(name, line.slice(colon + 1).trim());
	}
	return fields;
}

/**
 * `type/subtype; name=value; name="quoted; value"` per RFC 2045 §5.1, with comments
 * (RFC 5322 §3.2.2) dropped and RFC 2231 `name*=charset'lang'value` accepted.
 */
export function parseStructuredValue(input: string): { value: string; params: Map<string, string> } {
	const tokens: string[] = [];
	let current = '';
	let quoted = false;
	let comment = 0;
	for (let i = 0; i < input.length; i++) {
		const c = input[i]!;
		if (quoted) {
			if (c === '\\' && i + 1 < input.length) current += input[++i];
			else if (c === '"') quoted = false;
			else current += c;
		} else if (comment > 0) {
			if (c === '\\') i++;
			else if (c === '(') comment++;
			else if (c === ')') comment--;
		} else if (c === '"') quoted = true;
		else if (c === '(') comment++;
		else if (c === ';') {
			tokens.push(current);
			current = '';
		} else current += c;
	}
	tokens.push(current);
	const params = new Map<string, string>();
	for (const token of tokens.slice(1)) {
		const eq = token.indexOf('=');
		if (eq <= 0) continue;
		let name = token.slice(0, eq).trim().toLowerCase();
		let value = token.slice(eq + 1).trim();
		if (name.endsWith('*')) {
			name = name.slice(0, -1);
			value = value.replace(/^[^']*'[^']*'/, '').replace(/%([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
		}
		if (!params.has(name)) params.set(name, value);
	}
	return { value: tokens[0]!.trim().toLowerCase(), params };
}

/** RFC 2046 §5.1.1: a delimiter is `--boundary` at the start of a line; `--boundary--` closes. */
function splitMultipart(body: string, boundary: string): string[] {
	const delimiter = `--${boundary}`;
	const parts: string[] = [];
	let start = -1;
	let position = body.startsWith(delimiter) ? 0 : body.indexOf(`\n${delimiter}`);
	while (position !== -1 && parts.length < MAX_MIME_PARTS) {
		const lineStart = body[position] === '\n' ? position + 1 : position;
		if (start !== -1) parts.push(body.slice(start, position > 0 && body[position - 1] === '\r' ? position - 1 : position));
		const after = lineStart + delimiter.length;
		if (body.startsWith('--', after)) return parts;
		const lineEnd = body.indexOf('\n', after);
		if (lineEnd === -1) return parts;
		start = lineEnd + 1;
		position = body.indexOf(`\n${delimiter}`, lineEnd);
	}
	// A missing close delimiter still ends the last part at the end of the body.
	if (start !== -1 && parts.length < MAX_MIME_PARTS) parts.push(body.slice(start));
	return parts;
}

/** RFC 2045 §6.7 (quoted-printable) and §6.8 (base64); anything else is already bytes. */
function decodeTransferEncoding(body: string, encoding: string): string {
	if (encoding === 'base64') {
		const clean = body.replace(/[^A-Za-z0-9+/]/g, '');
		try {
			// The padding went with the other non-alphabet characters; atob decodes an unpadded
			// tail (forgiving-base64), so only a lone leftover character, which holds no whole byte, is cut.
			return atob(clean.length % 4 === 1 ? clean.slice(0, -1) : clean);
		} catch {
			return '';
		}
	}
	if (encoding === 'quoted-printable') {
		return body.replace(/[ \t]*=\r?\n/g, '').replace(/=([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
	}
	return body;
}

/** One char per byte (U+0000–U+00FF), so offsets and regexes work on bytes. */
export function toBinaryString(bytes: Uint8Array): string {
	// Node's 'latin1' is ISO-8859-1 byte for byte (unlike TextDecoder's 'latin1', which is
	// windows-1252), and native: building the string in JS cost more than parsing the message.
	return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

function binaryToBytes(binary: string): Uint8Array {
	const bytes = new Uint8Array(binary.length);
	for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
	return bytes;
}
