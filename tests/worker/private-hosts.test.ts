/**
 * One private-host rule for SMTP servers and webhook URLs (src/lib/schema/private-host.ts), over
 * every spelling the URL parser (and so a socket or fetch) accepts for the same address. Each row
 * is checked three ways: the pure rule, the SMTP target check, and the webhook URL check.
 */
import { describe, expect, it } from 'vitest';
import { checkWebhookUrl } from '../../src/lib/schema/webhook';
import { canonicalHost, isLoopbackHost, isPrivateHost } from '../../src/lib/schema/private-host';
import { checkTarget, connectHost } from '../../worker/smtp/target';

/** [spelling, what it is]: all refused. */
const refused: Array<[string, string]> = [
	['127.0.0.1', 'loopback'],
	['127.1', 'loopback, two-part'],
	['127.0.1', 'loopback, three-part'],
	['0x7f.1', 'loopback, hex'],
	['0x7f000001', 'loopback, one hex number'],
	['2130706433', 'loopback, one decimal number'],
	['0177.0.0.1', 'loopback, octal'],
	['017700000001', 'loopback, one octal number'],
	['127.000.000.001', 'loopback, zero-padded'],
	['127.0.0.1.', 'loopback, trailing dot'],
	['127.255.255.254', 'loopback, end of 127/8'],
	['0.0.0.0', 'this network'],
	['0', 'this network, one number'],
	['10.1.2.3', 'RFC 1918'],
	['012.1.2.3', 'RFC 1918, octal first part'],
	['172.16.0.1', 'RFC 1918'],
	['172.31.255.255', 'RFC 1918, end'],
	['192.168.1.1', 'RFC 1918'],
	['100.64.0.1', 'shared address space'],
	['100.127.255.255', 'shared address space, end'],
	['169.254.169.254', 'cloud metadata'],
	['0xa9.0xfe.0xa9.0xfe', 'cloud metadata, hex'],
	['192.0.0.1', 'IETF protocol assignments'],
	['198.18.0.1', 'benchmarking'],
	['198.19.255.255', 'benchmarking, end'],
	['224.0.0.1', 'multicast'],
	['240.0.0.1', 'reserved'],
	['255.255.255.255', 'limited broadcast'],
	['::', 'IPv6 unspecified'],
	['::1', 'IPv6 loopback'],
	['[::1]', 'IPv6 loopback, bracketed'],
	['0:0:0:0:0:0:0:1', 'IPv6 loopback, uncompressed'],
	['0000:0000:0000:0000:0000:0000:0000:0001', 'IPv6 loopback, zero-padded'],
	['::ffff:127.0.0.1', 'IPv4-mapped loopback'],
	['::ffff:7f00:1', 'IPv4-mapped loopback, hex'],
	['[::FFFF:7F00:0001]', 'IPv4-mapped loopback, upper case'],
	['::ffff:a9fe:a9fe', 'IPv4-mapped cloud metadata'],
	['::ffff:10.0.0.1', 'IPv4-mapped RFC 1918'],
	['::127.0.0.1', 'IPv4-compatible'],
	['::8.8.8.8', 'IPv4-compatible, even of a public address (deprecated)'],
	['64:ff9b::808:808', 'NAT64'],
	['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'Teredo'],
	['2002:7f00:1::', '6to4 of loopback'],
	['2002:a9fe:a9fe::1', '6to4 of cloud metadata'],
	['2002:c0a8:101::', '6to4 of RFC 1918'],
	['fc00::1', 'unique local'],
	['fd12:3456::1', 'unique local'],
	['fe80::1', 'link-local'],
	['febf::1', 'link-local, end'],
	['fec0::1', 'site-local'],
	['feff::1', 'site-local, end'],
	['ff02::1', 'multicast'],
	['localhost', 'local name'],
	['LOCALHOST', 'local name, upper case'],
	['mail.localhost', 'local name'],
	['localhost.', 'local name, trailing dot'],
	['printer.local', 'mDNS'],
	['mail.internal', 'local name'],
	['router.lan', 'local name'],
	['nas.home.arpa', 'local name'],
	['mailserver', 'single label']
];

/** Public addresses and names: never refused. */
const allowed = ['smtp.example.com', 'SMTP.Office365.com', 'smtp.gmail.com.', '8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '198.20.0.1', '192.0.1.1', '223.255.255.255', '2606:4700::1111', '[2a00:1450:4001:80b::200e]', '2002:808:808::1', '::ffff:8.8.8.8'];

describe('one private-host rule for SMTP servers and webhooks', () => {
	it.each(refused)('%s (%s) is refused by the rule, the SMTP target check and the webhook URL check', (host) => {
		expect(isPrivateHost(host)).toBe(true);
		expect(checkTarget({ host, port: 587, allowPrivate: false })?.hint).toMatch(/private, loopback or local/);
		const bracketed = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
		expect(checkWebhookUrl(`https://${bracketed}/hook`, false)).toMatch(/private, loopback or link-local/);
		// ALLOW_PRIVATE_*_HOSTS=true (local use) lets them through.
		expect(checkTarget({ host, port: 587, allowPrivate: true })).toBeNull();
		expect(checkWebhookUrl(`https://${bracketed}/hook`, true)).toBeNull();
	});

	it.each(allowed)('%s is public', (host) => {
		expect(isPrivateHost(host)).toBe(false);
		expect(checkTarget({ host, port: 587, allowPrivate: false })).toBeNull();
		const bracketed = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
		expect(checkWebhookUrl(`https://${bracketed}/hook`, false)).toBeNull();
	});

	it('reads each spelling as the URL parser does, and the SMTP session connects to that canonical form', () => {
		expect(canonicalHost('127.1')).toBe('127.0.0.1');
		expect(canonicalHost('0x7f.1')).toBe('127.0.0.1');
		expect(canonicalHost('0177.0.0.1')).toBe('127.0.0.1');
		expect(canonicalHost('127.000.000.001')).toBe('127.0.0.1');
		expect(canonicalHost('0:0:0:0:0:0:0:1')).toBe('[::1]');
		expect(canonicalHost('::ffff:127.0.0.1')).toBe('[::ffff:7f00:1]');
		expect(canonicalHost('SMTP.Example.COM')).toBe('smtp.example.com');
		expect(connectHost('0x7f.1')).toBe('127.0.0.1');
		expect(connectHost('[0:0:0:0:0:0:0:1]')).toBe('[::1]');
	});

	it('refuses what is not one host (a port, user info, a path, an escape) rather than guess', () => {
		for (const host of ['', ' ', 'smtp.example.com:25', 'user@smtp.example.com', 'smtp.example.com/x', 'smtp%2eexample.com', '127.0.0.1%00', '[::1', '999.1', 'a b']) {
			expect(canonicalHost(host), host).toBeNull();
			expect(isPrivateHost(host), host).toBe(true);
			expect(checkTarget({ host, port: 587, allowPrivate: true }), host).not.toBeNull();
		}
	});

	it('knows loopback (for the local-setup exceptions) from other private addresses', () => {
		for (const host of ['127.0.0.1', '127.1', '0x7f.1', '127.0.0.2', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:7f00:1', 'localhost', 'mail.localhost']) {
			expect(isLoopbackHost(host), host).toBe(true);
		}
		for (const host of ['10.0.0.1', '0.0.0.0', '::', 'fe80::1', 'smtp.example.com', 'localhost.example.com', '128.0.0.1']) {
			expect(isLoopbackHost(host), host).toBe(false);
		}
	});
});
