// libqp (pinned in package.json) ships no types: what mail/compose.ts and the tests use.
declare module 'libqp' {
	const libqp: {
		/** RFC 2045 §6.7 quoted-printable of the bytes, line breaks kept, no soft breaks yet. */
		encode(bytes: Uint8Array | string): string;
		/** Soft line breaks so that no line is longer than `lineLength` (76). */
		wrap(encoded: string, lineLength?: number): string;
		/** The bytes back (the browser tests read what a peer received). */
		decode(encoded: string): Uint8Array & { toString(encoding: 'utf8'): string };
	};
	export default libqp;
}
