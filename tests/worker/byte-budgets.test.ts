/**
 * worker/mail/byte-budgets.ts cutToBytes: a text short enough to fit whatever its characters is
 * kept without being encoded (issue 22); a longer one is measured in UTF-8 bytes and cut on a
 * character boundary.
 */
import { describe, expect, it } from 'vitest';
import { cutToBytes } from '../../worker/mail/byte-budgets';

const utf8 = (text: string) => new TextEncoder().encode(text).byteLength;

describe('cutToBytes', () => {
	it('keeps what fits, cuts what does not on a character boundary, in UTF-8 bytes', () => {
		const cases: Array<[string, number]> = [
			['plain ASCII', 11],
			['é'.repeat(10), 20],
			['é'.repeat(10), 19],
			['日本語'.repeat(10), 90],
			['日本語'.repeat(10), 89],
			['x🎉'.repeat(10), 50],
			['x🎉'.repeat(10), 48],
			['x'.repeat(30), 30],
			['x'.repeat(30), 29]
		];
		for (const [text, max] of cases) {
			const cut = cutToBytes(text, max);
			expect(cut.truncated, `${text.slice(0, 6)}… in ${max}`).toBe(utf8(text) > max);
			expect(utf8(cut.text)).toBeLessThanOrEqual(max);
			expect(text.startsWith(cut.text)).toBe(true);
			// Nothing more than one character's bytes is dropped.
			if (cut.truncated) expect(max - utf8(cut.text)).toBeLessThan(4);
		}
	});
});
