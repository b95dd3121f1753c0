/**
 * SPEC §5.2: the client IP and HELO for SPF come from the hop Cloudflare's MX added on top of
 * the message, never from headers deeper in it (a sender can write any Received header it likes
 * below that). Pure: header lines in, the hop out.
 */

export interface Hop {
	ip: string | null;
	helo: string | null;
	/** Which header the values came from, for the evidence shown to admins. */
	source: 'received-spf' | 'received' | null;
}

/** Cloudflare Email Routing's MX hosts name themselves under this domain. */
const CLOUDFLARE_MX = /(^|[\s.(])(mx\.)?cloudflare\.net\b/i;

export interface HeaderLine {
	key: string;
	value: string;
}

/**
 * Reads the topmost block of trace headers (RFC 5321 §4.4: each hop prepends its own): only
 * Received and Received-SPF headers that Cloudflare wrote, stopping at the first Received header
 * some other host added.
 */
export function findCloudflareHop(headers: readonly HeaderLine[]): Hop {
	let fromSpf: Hop | null = null;
	let fromReceived: Hop | null = null;
	for (const { key, value } of headers) {
		const name = key.toLowerCase();
		if (name === 'received-spf') {
			if (!fromSpf && CLOUDFLARE_MX.test(value)) fromSpf = parseReceivedSpf(value);
			continue;
		}
		if (name !== 'received') continue;
		if (!/\bby\s+[^\s;]*cloudflare\.net\b/i.test(value)) break;
		fromReceived ??= parseReceived(value);
	}
	if (fromSpf?.ip) return fromSpf;
	if (fromReceived?.ip) return fromReceived;
	return { ip: null, helo: null, source: null };
}

/** `client-ip=…; helo=…;` (RFC 7208 §9.1 key-value pairs). */
export function parseReceivedSpf(value: string): Hop {
	const ip = /\bclient-ip=([0-9a-fA-F.:]+)/.exec(value)?.[1] ?? null;
	const helo = /\bhelo=("?)([^";\s]+)\1/.exec(value)?.[2] ?? null;
	return { ip, helo, source: 'received-spf' };
}

/** `from HELO (rdns [IP])` of a Received header (RFC 5321 §4.4 TCP-info). */
export function parseReceived(value: string): Hop {
	const unfolded = value.replace(/\r?\n[ \t]+/g, ' ');
	const helo = /\bfrom\s+([^\s(;]+)/i.exec(unfolded)?.[1] ?? null;
	const ip = /\[(?:IPv6:)?([0-9a-fA-F.:]+)\]/.exec(unfolded.split(/\bby\b/i)[0] ?? '')?.[1] ?? null;
	return { ip, helo, source: 'received' };
}
