/**
 * Composes an outbound message once, at request time (SPEC §10 "The message"): what is stored
 * in MAIL_ARCHIVE is exactly what leaves. The multipart structure (alternative when there is
 * HTML, mixed with attachments) and the part headers come from mimetext (pinned); this file
 * adds what mimetext leaves to its caller: each body's transfer encoding (text as it is when it
 * can travel so, else quoted-printable from libqp or base64, whichever is smaller; attachments
 * base64 wrapped at 76 columns, RFC 2045 §6.7-6.8), RFC 2047 encoded words of at most 75
 * characters, folded (mimetext writes one unbounded word), and the threading headers. Bcc never
 * appears in the headers.
 * Pure: plain values in, the message text out.
 */
import { createMimeMessage } from 'mimetext/browser';
import { isMessageId } from '../../src/lib/schema/message-id';
import libqp from 'libqp';
import { bytesToBase64, textToBase64 } from './base64';

export interface ComposeInput {
	from: { name: string; address: string };
	to: string[];
	cc: string[];
	subject: string;
	text: string;
	html?: string | null;
	attachments: Array<{ filename: string; contentType: string; content: string }>;
	/** Without angle brackets. */
	messageId: string;
	inReplyTo: string | null;
	references: string[];
	date: Date;
	/** More header fields, ASCII only (the round-trip probe's X-Mailgate-Probe, SPEC §13). */
	extraHeaders?: Record<string, string>;
}

export interface ComposedMessage {
	raw: string;
	/** The header section, as sent. */
	headers: string;
	size: number;
	/**
	 * Where in `raw` the text part's body (`encodedText(input.text, encoding)`) starts, so a copy can
	 * leave it out and put it back from the text (outbound/composed.ts); null if it could not be told apart.
	 */
	textBody: { at: number; encoding: TextEncoding } | null;
}

/** RFC 2045 §6.8: encoded lines are at most 76 characters. */
const BASE64_LINE = 76;
/** RFC 2047 §2: an encoded word is at most 75 characters. */
const MAX_ENCODED_WORD = 75;
/** RFC 5322 §2.1.1: lines SHOULD be at most 78 characters; folded headers keep to it. */
const FOLD_WIDTH = 78;
const CRLF = '\r\n';

export function composeMessage(input: ComposeInput): ComposedMessage {
	refuseUnsafeHeaders(input);
	const message = createMimeMessage();
	message.setSender({ addr: input.from.address, name: input.from.name });
	message.setTo(input.to.map((addr) => ({ addr })));
	if (input.cc.length > 0) message.setCc(input.cc.map((addr) => ({ addr })));
	message.setSubject(input.subject);
	message.setHeader('Message-ID', `<${input.messageId}>`);
	message.setHeader('Date', formatDate(input.date));
	if (input.inReplyTo) message.setHeader('In-Reply-To', `<${input.inReplyTo}>`);
	if (input.references.length > 0) message.setHeader('References', fold(input.references.map((id) => `<${id}>`), 'References: '.length));
	for (const [name, value] of Object.entries(input.extraHeaders ?? {})) message.setHeader(name, value);

	// mimetext B-encodes the display name and subject as one word of any length; RFC 2047 §2
	// caps a word at 75 characters, so these two are written by encodeWords instead.
	for (const field of message.headers.fields) {
		if (field.name === 'From') field.dump = () => formatMailbox(input.from);
		if (field.name === 'Subject') field.dump = () => encodeWords(input.subject, 'Subject: '.length);
	}

	const text = textBody(input.text);
	message.addMessage({ contentType: 'text/plain', ...text });
	if (input.html) message.addMessage({ contentType: 'text/html', ...textBody(input.html) });
	for (const attachment of input.attachments) {
		message.addAttachment({
			filename: parameterValue(attachment.filename),
			contentType: attachment.contentType,
			data: wrapBase64(attachment.content.replace(/\s+/g, '')),
			encoding: 'base64'
		});
	}

	const raw = message.asRaw() + CRLF;
	const end = raw.indexOf(CRLF + CRLF);
	// The text part's header lines as mimetext writes them (the whole message's own, when it is
	// nothing but text); its first appearance is that part, since a header field holds no blank line.
	const partHead = `Content-Type: text/plain; charset=UTF-8${CRLF}Content-Transfer-Encoding: ${text.encoding}${CRLF}${CRLF}`;
	const found = raw.indexOf(partHead);
	const at = found + partHead.length;
	const textPart = found >= 0 && raw.startsWith(text.data, at) ? { at, encoding: text.encoding } : null;
	return { raw, headers: raw.slice(0, end + CRLF.length), size: new TextEncoder().encode(raw).byteLength, textBody: textPart };
}

// eslint-disable-next-line no-control-regex
const LINE_BREAK_OR_NUL = /[\r\n\u0000]/;
/** RFC 5322 §3.6.8: a field name is printable ASCII except the colon. */
const FIELD_NAME = /^[!-9;-~]+$/;

/**
 * Issue 18: a header value is one line. RFC 5322 §2.2 allows no CR or LF in a field body
 * except as folding, which only this file writes, and RFC 5322 §3.5 no NUL anywhere; the
 * threading ids must be msg-ids (RFC 5322 §3.6.4). Every caller validates first (the API
 * answers 422 on the field), so a value that fails here is a programmer error: it throws.
 */
function refuseUnsafeHeaders(input: ComposeInput): void {
	const values: Array<[string, string]> = [
		['From name', input.from.name],
		['From address', input.from.address],
		...input.to.map((address): [string, string] => ['To address', address]),
		...input.cc.map((address): [string, string] => ['Cc address', address]),
		['Subject', input.subject],
		['Message-ID', input.messageId],
		...Object.entries(input.extraHeaders ?? {}).flatMap(([name, value]): Array<[string, string]> => [
			['extra header name', name],
			['extra header value', value]
		]),
		...input.attachments.flatMap((a): Array<[string, string]> => [
			['attachment filename', a.filename],
			['attachment content type', a.contentType]
		])
	];
	for (const [what, value] of values) {
		if (LINE_BREAK_OR_NUL.test(value)) throw new Error(`composeMessage: the ${what} contains a line break or NUL; the caller must refuse it first`);
	}
	for (const name of Object.keys(input.extraHeaders ?? {})) {
		if (!FIELD_NAME.test(name)) throw new Error(`composeMessage: ${JSON.stringify(name)} is not a header field name`);
	}
	if (/[<>\s]/.test(input.messageId)) throw new Error('composeMessage: the Message-ID has brackets or spaces in it');
	for (const id of [...(input.inReplyTo ? [input.inReplyTo] : []), ...input.references]) {
		if (!isMessageId(id)) throw new Error(`composeMessage: ${JSON.stringify(id.slice(0, 100))} in In-Reply-To or References is not a Message-ID (RFC 5322 §3.6.4)`);
	}
}

/**
 * SPEC §10: `"Mailbox name" <address>`. An ASCII name travels as a quoted string (RFC 5322
 * §3.2.4, so commas and dots in it are safe); any other as RFC 2047 words, which may not
 * stand inside quotes (RFC 2047 §5).
 */
export function formatMailbox(mailbox: { name: string; address: string }): string {
	if (!mailbox.name) return `<${mailbox.address}>`;
	const name = /^[\x20-\x7e]*$/.test(mailbox.name)
		? `"${mailbox.name.replace(/["\\]/g, '\\$&')}"`
		: encodeWords(mailbox.name, 'From: '.length);
	return `${name} <${mailbox.address}>`;
}

/** RFC 5322 §3.3 date-time, e.g. "Mon, 30 Nov 2026 09:05:04 +0000". */
export function formatDate(date: Date): string {
	return date.toUTCString().replace(/GMT$/, '+0000');
}

/**
 * RFC 2046 §4.1.1: a text part's canonical form ends every line with CRLF, and RFC 2045 §6
 * encodes that form; a help desk's `\n` (or a lone `\r`) becomes CRLF before encoding.
 */
function canonicalLines(text: string): string {
	return text.replace(/\r\n|\r|\n/g, CRLF);
}

/** RFC 5322 §2.1.1: a line of a message is at most 998 characters (without its CRLF). */
const MAX_LINE = 998;
/** RFC 2045 §6.7 (5): quoted-printable lines are at most 76 characters. */
const QP_LINE = 76;
// eslint-disable-next-line no-control-regex
const SEVEN_BIT_TEXT = /^[\t\x20-\x7e\r\n]*$/;

/**
 * A text part's body as it travels (RFC 2045 §6), in its canonical form. As it is (`7bit`) when
 * it is printable ASCII in lines of at most 998 characters, as most replies are; otherwise
 * quoted-printable when fewer than one byte in six needs escaping (mostly Latin text: it reads
 * as itself and is the smaller), else base64 (other scripts). Base64 for ASCII text is a third
 * larger and what spam filters score as disguised text (SpamAssassin MIME_BASE64_TEXT).
 */
function textBody(text: string): { data: string; encoding: TextEncoding } {
	const canonical = canonicalLines(text);
	if (SEVEN_BIT_TEXT.test(canonical) && canonical.split(CRLF).every((line) => line.length <= MAX_LINE)) return { data: canonical, encoding: '7bit' };
	const bytes = new TextEncoder().encode(canonical);
	let escaped = 0;
	for (const byte of bytes) if (byte > 0x7e || byte === 0x3d || (byte < 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d)) escaped++;
	const encoding = escaped * 6 < bytes.length ? 'quoted-printable' : 'base64';
	return { data: encodeBytes(bytes, encoding), encoding };
}

export type TextEncoding = '7bit' | 'quoted-printable' | 'base64';

function encodeBytes(bytes: Uint8Array, encoding: 'quoted-printable' | 'base64'): string {
	return encoding === 'quoted-printable' ? libqp.wrap(libqp.encode(bytes), QP_LINE) : wrapBase64(bytesToBase64(bytes));
}

/**
 * A text part's body exactly as composeMessage writes it for `text` in `encoding` (the one its
 * part header names): a row keeps a queued reply without it (outbound/composed.ts), so these
 * encoders must give the same bytes for the same text from one version to the next; which
 * encoding a text gets may change, since the kept copy says which one it got.
 */
export function encodedText(text: string, encoding: TextEncoding): string {
	const canonical = canonicalLines(text);
	return encoding === '7bit' ? canonical : encodeBytes(new TextEncoder().encode(canonical), encoding);
}

function wrapBase64(base64: string): string {
	const lines: string[] = [];
	for (let i = 0; i < base64.length; i += BASE64_LINE) lines.push(base64.slice(i, i + BASE64_LINE));
	return lines.join(CRLF);
}

/**
 * A header value as it may travel: plain printable ASCII stays as it is (folded at spaces);
 * anything else becomes RFC 2047 "B" words of at most 75 characters, never splitting a
 * character, one word per folded line.
 */
export function encodeWords(value: string, offset: number): string {
	if (/^[\x20-\x7e]*$/.test(value) && !/=\?/.test(value)) return fold(value.split(' '), offset, ' ');
	const prefix = '=?UTF-8?B?';
	const suffix = '?=';
	// Base64 of n bytes is 4 * ceil(n / 3) characters.
	const maxBytes = Math.floor((MAX_ENCODED_WORD - prefix.length - suffix.length) / 4) * 3;
	const words: string[] = [];
	let chunk = '';
	let chunkBytes = 0;
	for (const char of value) {
		const size = new TextEncoder().encode(char).byteLength;
		if (chunkBytes + size > maxBytes) {
			words.push(prefix + textToBase64(chunk) + suffix);
			chunk = '';
			chunkBytes = 0;
		}
		chunk += char;
		chunkBytes += size;
	}
	if (chunk) words.push(prefix + textToBase64(chunk) + suffix);
	return words.join(`${CRLF} `);
}

/** Joins `parts` with `separator`, folding (CRLF + space) before a part that would pass 78 columns. */
function fold(parts: string[], offset: number, separator = ' '): string {
	let out = '';
	let column = offset;
	parts.forEach((part, index) => {
		if (index > 0 && column + separator.length + part.length > FOLD_WIDTH) {
			out += `${CRLF} `;
			column = 1;
		} else if (index > 0) {
			out += separator;
			column += separator.length;
		}
		out += part;
		column += part.length;
	});
	return out;
}

/**
 * A file name inside mimetext's quoted `name="…"` and `filename="…"` parameters: quotes and
 * backslashes escaped (RFC 2045 §5.1 quoted-string); a non-ASCII name as RFC 2047 words,
 * which Outlook, Gmail and Thunderbird write and read in these parameters.
 */
function parameterValue(filename: string): string {
	if (/^[\x20-\x7e]*$/.test(filename)) return filename.replace(/["\\]/g, '\\$&');
	return encodeWords(filename, 0).replace(/\r\n /g, ' ');
}
