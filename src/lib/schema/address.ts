/**
 * The service email address rule (SPEC §3): a single standard address, no aliases.
 * Pure functions shared by the mailbox form and the Worker through `mailbox.ts`.
 */

/** RFC 5321 §4.5.3.1.1: a local part is at most 64 octets. */
export const MAX_LOCAL_PART_LENGTH = 64;
/** RFC 5321 §4.5.3.1.3 (path of 256 octets, minus the angle brackets). */
export const MAX_ADDRESS_LENGTH = 254;
/** RFC 1035 §2.3.4: a domain name is at most 253 characters in text form, a label 63. */
export const MAX_DOMAIN_LENGTH = 253;
const MAX_LABEL_LENGTH = 63;

export const ALIASES_NOT_SUPPORTED = 'Aliases are not supported';

// RFC 5322 §3.2.3 atext, the characters of an unquoted local part (dot-atom).
const ATEXT = /^[A-Za-z0-9!#$%&'*/=?^_`{|}~+-]+$/;
const DOMAIN_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

const INVALID = 'Enter a valid email address, like support@example.com';

/** Returns why `value` is not an acceptable service address, or null when it is. */
export function checkServiceAddress(value: string): string | null {
	if (value.length === 0) return 'Enter the service email address';
	if (CONTROL.test(value)) return 'The address contains control characters';
	if (/[,;]/.test(value) || value.split('@').length > 2 && /\s/.test(value)) {
		return `${ALIASES_NOT_SUPPORTED}: enter one standard address, not a list`;
	}
	if (/[<>"]/.test(value)) {
		return `${ALIASES_NOT_SUPPORTED}: enter the address only, without a display name (like support@example.com)`;
	}
	if (/\s/.test(value)) return 'An email address cannot contain spaces';
	const at = value.lastIndexOf('@');
	if (at <= 0 || at === value.length - 1 || value.indexOf('@') !== at) return INVALID;
	const local = value.slice(0, at);
	const domain = value.slice(at + 1);
	if (local.includes('+')) {
		const base = `${local.slice(0, local.indexOf('+'))}@${domain}`;
		return `${ALIASES_NOT_SUPPORTED}: ${value} is a sub-address of ${base}; enter the standard address`;
	}
	if (value.length > MAX_ADDRESS_LENGTH) return `An email address is at most ${MAX_ADDRESS_LENGTH} characters`;
	if (local.length > MAX_LOCAL_PART_LENGTH) {
		return `The part before @ is at most ${MAX_LOCAL_PART_LENGTH} characters`;
	}
	if (!local.split('.').every((atom) => ATEXT.test(atom))) return INVALID;
	if (!isDomainName(domain) || !domain.includes('.')) return INVALID;
	return null;
}

/** The domain of an address (after its last @, RFC 5321 §4.1.2), lower-cased as DNS compares it. */
export function domainOf(address: string): string {
	return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}

/** A DNS host name in text form (labels of letters, digits and inner hyphens). */
export function isDomainName(value: string): boolean {
	const name = value.endsWith('.') ? value.slice(0, -1) : value;
	if (name.length === 0 || name.length > MAX_DOMAIN_LENGTH) return false;
	return name
		.split('.')
		.every((label) => label.length <= MAX_LABEL_LENGTH && DOMAIN_LABEL.test(label));
}

/** A dotted-quad IPv4 literal. */
export function isIPv4(value: string): boolean {
	const parts = value.split('.');
	return (
		parts.length === 4 &&
		parts.every((part) => /^(?:0|[1-9]\d{0,2})$/.test(part) && Number(part) <= 255)
	);
}

/** An IPv6 literal, bare or in brackets, optionally ending in an embedded IPv4 address. */
export function isIPv6(value: string): boolean {
	const bare = value.startsWith('[') && value.endsWith(']') ? value.slice(1, -1) : value;
	if (!/^[0-9A-Fa-f:.]+$/.test(bare) || !bare.includes(':')) return false;
	const halves = bare.split('::');
	if (halves.length > 2) return false;
	const groups = halves.flatMap((half) => (half === '' ? [] : half.split(':')));
	let width = 0;
	for (const [index, group] of groups.entries()) {
		if (index === groups.length - 1 && group.includes('.')) {
			if (!isIPv4(group)) return false;
			width += 2;
		} else if (/^[0-9A-Fa-f]{1,4}$/.test(group)) {
			width += 1;
		} else {
			return false;
		}
	}
	return halves.length === 2 ? width < 8 : width === 8;
}
