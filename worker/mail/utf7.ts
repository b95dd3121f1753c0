/**
 * UTF-7 (RFC 2152), which the WHATWG Encoding Standard leaves out, so TextDecoder (and
 * postal-mime through it) cannot read it: Windows SMTP services still label their delivery
 * reports `unicode-1-1-utf-7`. Pure; a single pass over the text.
 */

/** Labels of UTF-7: RFC 2152 `utf-7`, and the `unicode-1-1-utf-7` of RFC 1642, which it obsoletes. */
const UTF7_LABELS = new Set(['utf-7', 'utf7', 'unicode-1-1-utf-7', 'x-unicode-1-1-utf-7', 'csunicode11utf7']);

export function isUtf7Label(label: string | null | undefined): boolean {
	return label !== null && label !== undefined && UTF7_LABELS.has(label.trim().toLowerCase());
}

/** RFC 2152 "Modified Base64": RFC 4648 base64 without padding. */
const BASE64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const BASE64_VALUE = new Map([...BASE64_ALPHABET].map((c, i) => [c, i]));
const CHUNK_UNITS = 0x2000;

/**
 * The text of UTF-7 input (one character per byte, as 7-bit mail carries it). RFC 2152: `+`
 * opens a run of Modified Base64 holding UTF-16 code units, which any character outside the
 * alphabet closes; a closing `-` is absorbed, and `+-` is a plus sign. Bits left over at the
 * end of a run (fewer than 16) are discarded, as the RFC says a decoder must.
 */
export function decodeUtf7(input: string): string {
	let out = '';
	let i = 0;
	while (i < input.length) {
		const plus = input.indexOf('+', i);
		if (plus === -1) return out + input.slice(i);
		out += input.slice(i, plus);
		i = plus + 1;
		if (input[i] === '-') {
			out += '+';
			i++;
			continue;
		}
		let bits = 0;
		let bitCount = 0;
		const units: number[] = [];
		for (; i < input.length; i++) {
			const value = BASE64_VALUE.get(input[i]!);
			if (value === undefined) break;
			bits = ((bits << 6) | value) & 0xffffff;
			bitCount += 6;
			if (bitCount >= 16) {
				bitCount -= 16;
				units.push((bits >> bitCount) & 0xffff);
			}
		}
		// Surrogate pairs join as UTF-16 does; chunks keep the spread far below engines' argument limits.
		for (let c = 0; c < units.length; c += CHUNK_UNITS) out += String.fromCharCode(...units.slice(c, c + CHUNK_UNITS));
		if (input[i] === '-') i++;
	}
	return out;
}
