/**
 * mailauth inside workerd: RSA DKIM signatures verify (workerd's node:crypto refuses the digest
 * name "rsa-sha256" that mailauth passes; worker/shims/mailauth-crypto.ts translates it), a
 * tampered message fails, and ed25519 keeps working. Keys are generated here; DNS is a zone table.
 */
import crypto from 'node:crypto';
import { authenticate, dkimSign } from 'mailauth';
import { describe, expect, it } from 'vitest';
import { digestName } from '../../worker/shims/mailauth-crypto';

const MESSAGE =
	'From: Alice <alice@example.com>\r\nTo: support@acme.test\r\nSubject: Where is my order?\r\n' +
	'Message-ID: <order-1@example.com>\r\nDate: Tue, 24 Nov 2026 09:00:00 +0000\r\n\r\nHello, my order 1234 has not arrived.\r\n';

function zone(records: Record<string, string>) {
	return async (name: string, type: string) => {
		const value = records[`${name}/${type}`];
		if (value !== undefined) return [[value]];
		throw Object.assign(new Error(`${name} not found`), { code: 'ENOTFOUND' });
	};
}

async function signAndVerify(type: 'rsa' | 'ed25519', tamper: (message: string) => string = (m) => m) {
	const pair = type === 'rsa' ? crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }) : crypto.generateKeyPairSync('ed25519');
	const privateKey = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
	const der = pair.publicKey.export({ type: 'spki', format: 'der' }) as Buffer;
	// RFC 8463 §4.2: an ed25519 DNS key is the bare 32-byte public key, not the SPKI wrapper.
	const p = (type === 'ed25519' ? der.subarray(der.length - 32) : der).toString('base64');
	const signed = await dkimSign(MESSAGE, { signatureData: [{ signingDomain: 'example.com', selector: 's1', privateKey }] } as never);
	expect(signed.errors).toEqual([]);
	const message = signed.signatures + tamper(MESSAGE);
	const result = await authenticate(message, {
		resolver: zone({ [`s1._domainkey.example.com/TXT`]: `v=DKIM1; k=${type}; p=${p}` }),
		ip: '192.0.2.10',
		helo: 'mail.example.com',
		sender: 'alice@example.com',
		mta: 'mx.acme.test',
		disableBimi: true
	});
	return result.dkim.results[0]!.status;
}

describe('mailauth in workerd', () => {
	it('verifies an RSA-signed message', async () => {
		expect((await signAndVerify('rsa')).result).toBe('pass');
	});

	it('does not pass an RSA-signed message whose body was changed', async () => {
		const status = await signAndVerify('rsa', (m) => m.replace('1234', '9999'));
		expect(status.result).not.toBe('pass');
		expect(status.comment).toMatch(/body hash/);
	});

	it('fails an RSA-signed message whose signed header was changed', async () => {
		const status = await signAndVerify('rsa', (m) => m.replace('Where is my order?', 'Refund now'));
		expect(status.result).toBe('fail');
		expect(status.comment).toBe('bad signature');
	});

	it('verifies an ed25519-signed message', async () => {
		expect((await signAndVerify('ed25519')).result).toBe('pass');
	});

	it('translates only the OpenSSL combined names', () => {
		expect(digestName('rsa-sha256')).toBe('sha256');
		expect(digestName('RSA-SHA1')).toBe('sha1');
		expect(digestName('sha256')).toBe('sha256');
		expect(digestName(null)).toBeNull();
	});
});
