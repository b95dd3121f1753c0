/**
 * API keys for help desks (SPEC §11): `mgk_` + 32 random bytes in base64url, shown once. Only
 * the SHA-256 is stored: a key has 256 bits of entropy, so a plain fast hash is enough (no
 * salt or slow KDF is needed against guessing), and nobody ever needs the key back.
 */
const KEY_BYTES = 32;
export const API_KEY_PREFIX = 'mgk_';

export function newApiKey(): string {
	const bytes = crypto.getRandomValues(new Uint8Array(KEY_BYTES));
	return API_KEY_PREFIX + btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export async function hashApiKey(key: string): Promise<string> {
	const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(key));
	return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, '0')).join('');
}
