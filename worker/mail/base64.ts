/**
 * Base64 (RFC 4648 §4) and base64url (§5) over bytes and UTF-8 text: one place for what
 * `btoa`/`atob` leave to their callers (they take and give Latin-1 strings, one character
 * per byte, and throw on anything else). Pure.
 */

/**
 * Bytes turned into one string at a time, far below engines' argument limits. Passed with
 * `apply`, not spread: spreading a typed array walks its iterator (issue 22: a 50 KB reply's text
 * part took 3-5 ms to compose in workerd, about 30 ms in Node 20; by `apply` under 1 ms).
 */
const CHUNK_BYTES = 0x1000;

/** The engine's own encoder (`Uint8Array.prototype.toBase64`, ES2026; workerd has it), where there is one. */
const nativeToBase64 = (Uint8Array.prototype as { toBase64?: (this: Uint8Array) => string }).toBase64;

/** Standard base64 with padding. */
export function bytesToBase64(bytes: Uint8Array): string {
	return nativeToBase64 ? nativeToBase64.call(bytes) : base64InChunks(bytes);
}

/** Standard base64 with padding, by `btoa`, where the engine has no `toBase64` (exported for its test). */
export function base64InChunks(bytes: Uint8Array): string {
	let binary = '';
	for (let i = 0; i < bytes.length; i += CHUNK_BYTES) binary += String.fromCharCode.apply(null, bytes.subarray(i, i + CHUNK_BYTES) as unknown as number[]);
	return btoa(binary);
}

/** The bytes of standard base64 (padded or not); throws on characters outside the alphabet, as `atob` does. */
export function base64ToBytes(base64: string): Uint8Array {
	const binary = atob(base64);
	const bytes = new Uint8Array(binary.length);
	for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
	return bytes;
}

/** Base64 of the text's UTF-8 bytes (`btoa` alone takes Latin-1 only). */
export function textToBase64(text: string): string {
	return bytesToBase64(new TextEncoder().encode(text));
}

/** The UTF-8 text in standard base64 (invalid sequences become U+FFFD). */
export function base64ToText(base64: string): string {
	return new TextDecoder().decode(base64ToBytes(base64));
}

/** base64url without padding (RFC 4648 §5, as JWTs and our tokens write it). */
export function bytesToBase64Url(bytes: Uint8Array): string {
	return bytesToBase64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** The UTF-8 text in base64url, padded or not (a JWT's payload, RFC 7515 §2). */
export function base64UrlToText(base64url: string): string {
	return base64ToText(base64url.replace(/-/g, '+').replace(/_/g, '/'));
}

/** How many bytes a base64 text decodes to, white space (line breaks) ignored; no decoding. */
export function base64DecodedSize(base64: string): number {
	const clean = base64.replace(/\s+/g, '');
	return Math.floor((clean.length * 3) / 4) - (clean.endsWith('==') ? 2 : clean.endsWith('=') ? 1 : 0);
}
