/**
 * Encrypts SMTP passwords at rest with AES-256-GCM (WebCrypto) under the SMTP_ENCRYPTION_KEY
 * Worker secret. The record id is bound as additional data, so a ciphertext copied onto
 * another row does not decrypt.
 */
import { base64ToBytes, bytesToBase64 } from '../mail/base64';

/** Format marker, so a future key rotation can tell old ciphertexts apart. */
const FORMAT = 'v1';
/** NIST SP 800-38D §8.2: a 96-bit random IV per encryption. */
const IV_BYTES = 12;
const KEY_BYTES = 32;

export class EncryptionKeyError extends Error {
	constructor() {
		super('SMTP_ENCRYPTION_KEY must be set to 32 random bytes in base64 (npm start creates one).');
		this.name = 'EncryptionKeyError';
	}
}

const keys = new Map<string, Promise<CryptoKey>>();

function importKey(secret: string | undefined): Promise<CryptoKey> {
	if (!secret) return Promise.reject(new EncryptionKeyError());
	let key = keys.get(secret);
	if (!key) {
		let raw: Uint8Array;
		try {
			raw = base64ToBytes(secret.trim());
		} catch {
			return Promise.reject(new EncryptionKeyError());
		}
		if (raw.byteLength !== KEY_BYTES) return Promise.reject(new EncryptionKeyError());
		key = crypto.subtle.importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt']);
		keys.set(secret, key);
	}
	return key;
}

export async function encryptSecret(options: { plain: string; secret: string | undefined; boundTo: string }): Promise<string> {
	const key = await importKey(options.secret);
	const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
	const cipher = await crypto.subtle.encrypt(
		{ name: 'AES-GCM', iv, additionalData: new TextEncoder().encode(options.boundTo) },
		key,
		new TextEncoder().encode(options.plain)
	);
	return `${FORMAT}.${bytesToBase64(iv)}.${bytesToBase64(new Uint8Array(cipher))}`;
}

export async function decryptSecret(options: { sealed: string; secret: string | undefined; boundTo: string }): Promise<string> {
	const [format, iv, cipher] = options.sealed.split('.');
	if (format !== FORMAT || !iv || !cipher) throw new Error('Unknown secret format');
	const key = await importKey(options.secret);
	const plain = await crypto.subtle.decrypt(
		{ name: 'AES-GCM', iv: base64ToBytes(iv), additionalData: new TextEncoder().encode(options.boundTo) },
		key,
		base64ToBytes(cipher)
	);
	return new TextDecoder().decode(plain);
}
