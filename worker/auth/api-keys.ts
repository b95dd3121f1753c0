/**
 * API keys for help desks (SPEC §11): `mgk_` + 32 random bytes in base64url, shown once. Only
 * the SHA-256 is stored: a key has 256 bits of entropy, so a plain fast hash is enough (no
 * salt or slow KDF is needed against guessing), and nobody ever needs the key back.
 */
import { sha256Hex } from '../crypto/sha256';
import { bytesToBase64Url } from '../mail/base64';
const KEY_BYTES = 32;
export const API_KEY_PREFIX = 'mgk_';

export function newApiKey(): string {
	const bytes = crypto.getRandomValues(new Uint8Array(KEY_BYTES));
	return API_KEY_PREFIX + bytesToBase64Url(bytes);
}

export function hashApiKey(key: string): Promise<string> {
	return sha256Hex(key);
}
