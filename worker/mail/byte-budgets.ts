/**
 * How much of a message is kept where: the size Email Routing delivers, and the D1 row budgets
 * shared by the inbound log row and the outbound row. Pure.
 */

/** Email Routing delivers messages up to 25 MiB. */
export const MAX_MESSAGE_BYTES = 25 * 1024 * 1024;
/**
 * D1 limits a row, string or BLOB to 1,000,000 bytes in production (local D1 accepts more, so
 * only these limits keep a large message from failing in production). The three large
 * columns share the row: text, HTML and the header block are kept up to these many UTF-8
 * bytes each, leaving over 150 KB for the rest; what is cut stays whole in MAIL_ARCHIVE.
 */
export const MAX_STORED_TEXT_BYTES = 250_000;
export const MAX_STORED_HTML_BYTES = 400_000;
export const MAX_STORED_HEADER_BYTES = 200_000;

/** Cuts `text` to at most `maxBytes` of UTF-8 without splitting a character. */
export function cutToBytes(text: string, maxBytes: number): { text: string; truncated: boolean } {
	// UTF-8 takes at most 3 bytes per UTF-16 code unit (a surrogate pair, two units, is 4 bytes):
	// a text this short fits without being encoded to count (issue 22: a 50 KB reply's text).
	if (text.length * 3 <= maxBytes) return { text, truncated: false };
	const bytes = new TextEncoder().encode(text);
	if (bytes.byteLength <= maxBytes) return { text, truncated: false };
	let end = maxBytes;
	// Back up to a character boundary: UTF-8 continuation bytes are 10xxxxxx.
	while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
	return { text: new TextDecoder().decode(bytes.subarray(0, end)), truncated: true };
}
