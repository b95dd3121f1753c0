/**
 * node:crypto as mailauth sees it in the Worker (wrangler.toml [alias] and the test bundle).
 * mailauth passes OpenSSL's combined names ("rsa-sha256") as the digest to crypto.sign and
 * crypto.verify; OpenSSL accepts them, workerd's node:crypto wants the digest alone ("sha256")
 * and throws "Unknown digest", which turned every RSA DKIM and ARC check into a failure.
 * This module is node:crypto with that one name translation; everything else passes through.
 */
import * as nodeCrypto from 'crypto';

/** RFC 6376 §3.3 / RFC 8617 §4.1: the signing algorithms mailauth uses, by their digest. */
const DIGEST_OF: Record<string, string> = {
	'rsa-sha256': 'sha256',
	'rsa-sha1': 'sha1',
	'rsa-sha512': 'sha512'
};

export function digestName<T>(algorithm: T): T | string {
	return typeof algorithm === 'string' ? (DIGEST_OF[algorithm.toLowerCase()] ?? algorithm) : algorithm;
}

type Verify = typeof nodeCrypto.verify;
type Sign = typeof nodeCrypto.sign;

export const verify = ((algorithm: string | null | undefined, ...rest: unknown[]) =>
	(nodeCrypto.verify as (...args: unknown[]) => unknown)(digestName(algorithm), ...rest)) as Verify;

export const sign = ((algorithm: string | null | undefined, ...rest: unknown[]) =>
	(nodeCrypto.sign as (...args: unknown[]) => unknown)(digestName(algorithm), ...rest)) as Sign;

export * from 'crypto';
export default { ...nodeCrypto, verify, sign };
