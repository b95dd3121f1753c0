/**
 * Where an SMTP test may connect (SPEC §4 "config"): never port 25 (Cloudflare blocks it), and
 * never this network's private, loopback or link-local addresses unless the operator allows
 * it for local use (ALLOW_PRIVATE_SMTP_HOSTS=true, set by `npm start`).
 */
import { isIPv4, isIPv6 } from '../../src/lib/schema/address';
import { PORT_25_MESSAGE } from '../../src/lib/schema/mailbox';

export interface TargetRefusal {
	hint: string;
}

/** RFC 6761 / RFC 6762 / RFC 8375 names that never leave the local network. */
const LOCAL_NAMES = /(^|\.)(localhost|local|internal|lan|home\.arpa|localdomain)\.?$/i;

export function checkTarget(options: { host: string; port: number; allowPrivate: boolean }): TargetRefusal | null {
	const { host, port, allowPrivate } = options;
	if (port === 25) return { hint: `Not tested: ${PORT_25_MESSAGE}.` };
	if (allowPrivate) return null;
	if (isPrivateAddress(host) || LOCAL_NAMES.test(host) || !host.includes('.') && !isIPv6(host)) {
		return {
			hint: `Not tested: ${host} is a private, loopback or local address, which the sending test cannot reach from Cloudflare. Use the server's public host name.`
		};
	}
	return null;
}

/** RFC 1918, RFC 6598, loopback, link-local, unspecified and their IPv6 counterparts. */
export function isPrivateAddress(host: string): boolean {
	if (isIPv4(host)) {
		const [a = 0, b = 0] = host.split('.').map(Number);
		return (
			a === 0 ||
			a === 10 ||
			a === 127 ||
			(a === 100 && b >= 64 && b <= 127) ||
			(a === 169 && b === 254) ||
			(a === 172 && b >= 16 && b <= 31) ||
			(a === 192 && b === 168)
		);
	}
	if (isIPv6(host)) {
		const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
		if (bare === '::' || bare === '::1') return true;
		const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(bare);
		if (mapped) return isPrivateAddress(mapped[1]!);
		return /^(fc|fd|fe8|fe9|fea|feb)/.test(bare);
	}
	return false;
}
