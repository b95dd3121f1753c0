import { isDomainName, isIPv4, isIPv6 } from './address';

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Returns why `value` is not a usable SMTP server address (SPEC §3: a host name or IP
 * literal; no scheme, path, spaces or control characters), or null when it is.
 */
export function checkServerAddress(value: string): string | null {
	if (value.length === 0) return 'Enter the SMTP server address';
	if (CONTROL.test(value)) return 'The server address contains control characters';
	if (/\s/.test(value)) return 'The server address cannot contain spaces';
	const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(value);
	if (scheme) return `Enter the server name only, without “${scheme[1]}://”`;
	if (value.includes('/') || value.includes('?') || value.includes('#')) {
		return 'Enter the server name only, without a path';
	}
	if (value.includes('@')) return 'Enter the server name only; the login goes in Account';
	if (isIPv4(value) || isIPv6(value)) return null;
	if (/^[^:]+:\d*$/.test(value) || /^\[.*\]:\d*$/.test(value)) {
		return 'Enter the port in the Port field, not in the server address';
	}
	if (!isDomainName(value)) return 'Enter a host name like smtp.example.com or an IP address';
	return null;
}
