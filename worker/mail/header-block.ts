/**
 * A message's header section as delivered: everything before the first empty line (RFC 5322
 * §2.1), the last field's line end included. One rule for the raw bytes of a message, a
 * returned message's text in a bounce and a composed reply: a line ends in CRLF or, as many
 * mailers write, a bare LF. Pure; a linear scan.
 */

/** Where the header section of `raw` ends (the index just past the last field's line end); its length when there is no empty line. */
export function headerBlockEnd(raw: Uint8Array | string): number {
	const at: (i: number) => number | undefined = typeof raw === 'string' ? (i) => raw.charCodeAt(i) : (i) => raw[i];
	const length = typeof raw === 'string' ? raw.length : raw.byteLength;
	for (let i = 0; i + 1 < length; i++) {
		if (at(i) === LF && at(i + 1) === LF) return i + 1;
		if (at(i) === CR && at(i + 1) === LF && at(i + 2) === CR && at(i + 3) === LF) return i + 2;
	}
	return length;
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
