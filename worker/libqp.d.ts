// libqp (pinned in package.json) ships no types: the two functions mail/compose.ts uses.
declare module 'libqp' {
	const libqp: {
		/** RFC 2045 §6.7 quoted-printable of the bytes, line breaks kept, no soft breaks yet. */
		encode(bytes: Uint8Array | string): string;
		/** Soft line breaks so that no line is longer than `lineLength` (76). */
		wrap(encoded: string, lineLength?: number): string;
	};
	export default libqp;
}
