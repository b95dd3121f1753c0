/**
 * A message's header section as delivered: everything before the first empty line (RFC 5322
 * §2.1), the last field's line end included. One rule for the raw bytes of a message, a MIME
 * entity, a returned message's text in a bounce and a composed reply: a line ends in CRLF or,
 * as many mailers write, a bare LF, so the section ends at the first LF followed by an empty
 * line (LF or CRLF), as postal-mime reads it. Pure; a linear scan.
 */

/** Where the header section of `raw` ends (the index just past the last field's line end); its length when there is no empty line. */
export function headerBlockEnd(raw: Uint8Array | string): number {
	if (typeof raw === 'string') {
		const match = EMPTY_LINE.exec(raw);
		return match ? match.index + 1 : raw.length;
	}
	for (let i = 0; i + 1 < raw.byteLength; i++) {
		if (raw[i] === LF && (raw[i + 1] === LF || (raw[i + 1] === CR && raw[i + 2] === LF))) return i + 1;
	}
	return raw.byteLength;
}

/** The header section of a raw message, decoded as UTF-8 (invalid bytes become U+FFFD). */
export function readHeaderBlock(raw: Uint8Array): string {
	return new TextDecoder('utf-8', { fatal: false, ignoreBOM: true }).decode(raw.subarray(0, headerBlockEnd(raw)));
}

/** The header section of a message already held as text. */
export function headerBlockOf(text: string): string {
	return text.slice(0, headerBlockEnd(text));
}

const CR = 0x0d;
const LF = 0x0a;
/** A line end followed by an empty line. */
const EMPTY_LINE = /\n\r?\n/;
