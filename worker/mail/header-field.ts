/**
 * One header field's value as it stands in a message's raw header section: no MIME or RFC
 * 2047 decoding, so a sender's `=?UTF-8?Q?…=0D=0A…?=` stays the inert text it is in the
 * message and never turns into a line break. Pure; a linear scan with bounded output.
 */

/**
 * A field value longer than this is cut here. RFC 5322 §2.1.1 limits a line to 998
 * characters, but folding lets a field run on; 64 KiB holds a References field of
 * MAX_MESSAGE_ID_LIST (src/lib/schema/message-id.ts) ids of any allowed length.
 */
const MAX_FIELD_VALUE_CHARS = 64 * 1024;

/**
 * The value of the first field named `name` (case-insensitive, RFC 5322 §1.2.2) in `block`,
 * unfolded (RFC 5322 §2.2.3: the CRLF before a line that starts with space or tab is
 * removed, the whitespace kept), without the whitespace after the colon; null when there is
 * no such field. Bare LF line ends are taken as CRLF; a bare CR stays in the value (and so
 * fails any strict syntax read from it). The header section ends at the first empty line.
 */
export function readHeaderField(block: string, name: string): string | null {
	const wanted = name.toLowerCase();
	let value: string | null = null;
	let start = 0;
	while (start < block.length) {
		const lf = block.indexOf('\n', start);
		const end = lf < 0 ? block.length : lf;
		const line = block.slice(start, end > start && block[end - 1] === '\r' ? end - 1 : end);
		start = end + 1;
		const continuation = line.startsWith(' ') || line.startsWith('\t');
		if (value !== null) {
			if (!continuation) break;
			if (value.length < MAX_FIELD_VALUE_CHARS) value = (value + line).slice(0, MAX_FIELD_VALUE_CHARS);
			continue;
		}
		if (line === '') break;
		if (continuation) continue;
		const colon = line.indexOf(':');
		// RFC 5322 §4.5 (obsolete syntax): whitespace may stand between the name and the colon.
		if (colon > 0 && line.slice(0, colon).trimEnd().toLowerCase() === wanted) {
			value = line.slice(colon + 1).slice(0, MAX_FIELD_VALUE_CHARS);
		}
	}
	return value === null ? null : value.replace(/^[ \t]+/, '');
}

/**
 * Text taken from a stored message (a subject, a display name) as one header line: CR, LF and
 * NUL, which RFC 5322 §2.2 never allows inside a field body, become single spaces. Inbound
 * subjects are stored decoded (RFC 2047), so `=0D=0A` in a sender's subject is a real line
 * break by the time a reply's `Re: …` is made from it.
 */
export function oneLine(text: string): string {
	// eslint-disable-next-line no-control-regex
	return text.replace(/[\r\n\u0000]+/g, ' ').trim();
}
