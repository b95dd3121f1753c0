/**
 * worker/mail/base64.ts (issue 22: the engine's `toBase64` where it has one, else chunks passed
 * with `apply`; a 50 KB reply's text part in well under a millisecond either way). Every byte
 * value and the lengths around a chunk's edge must come out as one `btoa` over the whole would
 * write them.
 */
import { describe, expect, it } from 'vitest';
import { base64InChunks, base64ToBytes, bytesToBase64, textToBase64 } from '../../worker/mail/base64';

/** The reference: one Latin-1 string of all the bytes, one `btoa`. */
const reference = (bytes: Uint8Array) => btoa(Array.from(bytes, (byte) => String.fromCharCode(byte)).join(''));

describe('bytesToBase64', () => {
	it('writes every byte value, across chunk edges, as one btoa would, and reads back the same bytes', () => {
		for (const length of [0, 1, 2, 3, 255, 256, 4095, 4096, 4097, 8192, 70_001]) {
			const bytes = Uint8Array.from({ length }, (_, i) => (i * 151 + 7) % 256);
			const base64 = bytesToBase64(bytes);
			expect(base64, `${length} bytes`).toBe(reference(bytes));
			expect(base64InChunks(bytes), `${length} bytes in chunks`).toBe(base64);
			expect(base64ToBytes(base64)).toEqual(bytes);
		}
	});

	it('encodes text as its UTF-8 bytes', () => {
		const text = 'Grüße, 日本 🎉 '.repeat(400);
		expect(textToBase64(text)).toBe(reference(new TextEncoder().encode(text)));
	});
});
