/**
 * Where an SMTP session may connect (SPEC §4 "config"): never port 25 (Cloudflare blocks it), and
 * never this network's private, loopback, link-local or special-purpose addresses, in any
 * spelling, unless the operator allows it for local use (ALLOW_PRIVATE_SMTP_HOSTS=true, set by
 * `npm start`). One rule with webhook URLs (src/lib/schema/private-host.ts).
 */
import { PORT_25_MESSAGE } from '../../src/lib/schema/mailbox';
import { canonicalHost, isPrivateHost } from '../../src/lib/schema/private-host';

export interface TargetRefusal {
	hint: string;
}

/**
 * The refusal for `host`:`port`, or null. The check runs on the URL parser's canonical form of
 * `host`; sessions connect to that same form (`connectHost`), so no spelling the check did not see
 * reaches the socket.
 */
export function checkTarget(options: { host: string; port: number; allowPrivate: boolean }): TargetRefusal | null {
	const { host, port, allowPrivate } = options;
	if (port === 25) return { hint: `Not tested: ${PORT_25_MESSAGE}.` };
	if (canonicalHost(host) === null) return { hint: `Not tested: ${host} is not a host name or IP address. Enter a host name like smtp.example.com.` };
	if (allowPrivate) return null;
	if (isPrivateHost(host)) {
		return {
			hint: `Not tested: ${host} is a private, loopback or local address, which the sending test cannot reach from Cloudflare. Use the server's public host name.`
		};
	}
	return null;
}

/**
 * The host a socket connects to: the canonical form the checks ran on (brackets kept for IPv6,
 * as SmtpSettings carries it). Falls back to `host` itself when it has none: checkTarget refuses
 * such a host before any connection.
 */
export function connectHost(host: string): string {
	return canonicalHost(host) ?? host;
}
