/**
 * Seals a draft's SMTP password before it touches IndexedDB: AES-GCM under a non-extractable
 * WebCrypto key that lives in IndexedDB itself. Script can use the key but never read it, so
 * a copied database file or a dump of storage shows no password.
 */
import type { Database, SealedSecret } from './db';

const KEY_ID = 'draft-secrets';

async function deviceKey(db: Database): Promise<CryptoKey> {
	const existing = await db.get('keys', KEY_ID);
	if (existing) return existing;
	const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
	// Two tabs may race here; the first key stored wins and both use it.
	const tx = db.transaction('keys', 'readwrite');
	const stored = await tx.store.get(KEY_ID);
	if (!stored) await tx.store.put(key, KEY_ID);
	await tx.done;
	return stored ?? key;
}

export async function sealSecret(db: Database, plain: string): Promise<SealedSecret> {
	const key = await deviceKey(db);
	const iv = crypto.getRandomValues(new Uint8Array(12));
	const data = await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, new TextEncoder().encode(plain));
	return { iv, data };
}

export async function openSecret(db: Database, sealed: SealedSecret): Promise<string> {
	const key = await deviceKey(db);
	const plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: sealed.iv }, key, sealed.data);
	return new TextDecoder().decode(plain);
}
