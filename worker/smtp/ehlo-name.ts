/**
 * The name Mailgate greets an SMTP server with (RFC 5321 §4.1.1.1 EHLO). RFC 5321 §4.1.3 wants
 * the client's domain or an address literal such as `[127.0.0.1]`; a bare address (worker-mailer's
 * `EHLO 127.0.0.1`) is neither, and Postfix with `reject_non_fqdn_helo_hostname` answers it with
 * `504 5.5.2`. A Worker has no host name of its own, so it greets as the service address's domain,
 * the domain the mail is from, unless SMTP_EHLO_NAME names another.
 */

/** RFC 5321 §4.1.2 Domain (LDH labels, dot-separated) or address-literal (`[…]`). */
const DOMAIN = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const ADDRESS_LITERAL = /^\[(?:\d{1,3}(?:\.\d{1,3}){3}|IPv6:[0-9A-Fa-f:.]+)\]$/;

/** A configured SMTP_EHLO_NAME as it may be sent, or '' when it is not a domain or an address literal. */
export function validEhloName(value: string): string {
	const name = value.trim().replace(/\.$/, '');
	return DOMAIN.test(name) || ADDRESS_LITERAL.test(name) ? name : '';
}

/**
 * SMTP_EHLO_NAME when set, else the domain of `address` (an internationalised one as its
 * A-labels, RFC 5890, since EHLO takes ASCII), else the address literal `[127.0.0.1]`.
 */
export function ehloNameFor(configured: string, address: string): string {
	if (configured) return configured;
	const domain = address.slice(address.lastIndexOf('@') + 1).replace(/\.$/, '');
	return validEhloName(asciiDomain(domain)) || '[127.0.0.1]';
}

function asciiDomain(domain: string): string {
	if (/^[\x20-\x7e]*$/.test(domain)) return domain;
	try {
		// The URL parser applies UTS #46 to a host: the A-label form (xn--…).
		return new URL(`http://${domain}/`).hostname;
	} catch {
		return '';
	}
}
