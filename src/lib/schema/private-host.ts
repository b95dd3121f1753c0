/**
 * Where Mailgate may connect on an admin's say-so, in one rule for SMTP servers
 * (worker/smtp/target.ts) and webhook URLs (webhook.ts): never this network's loopback, private,
 * link-local or otherwise special addresses, in any spelling. A host is first read the way the
 * WHATWG URL parser reads it (so `127.1`, `0x7f.1`, `0177.0.0.1`, `2130706433` are all
 * 127.0.0.1, and IPv6 comes out compressed), then checked once on that canonical form; the
 * callers connect to that same canonical form. Pure, shared by the Worker and the app.
 */

/** RFC 6761 / RFC 6762 / RFC 8375 names that never leave the local network. */
const LOCAL_NAMES = /(^|\.)(localhost|local|internal|lan|home\.arpa|localdomain)$/;

/**
 * IPv4 blocks no public server lives in (RFC 6890 special-purpose registry), as [address, prefix].
 * 169.254.169.254 (cloud metadata) is inside 169.254.0.0/16; 255.255.255.255 inside 240.0.0.0/4.
 */
const PRIVATE_V4: Array<[number[], number]> = [
	[[0, 0, 0, 0], 8], // "this network" (RFC 791, RFC 1122 §3.2.1.3)
	[[10, 0, 0, 0], 8], // RFC 1918
	[[100, 64, 0, 0], 10], // RFC 6598 shared address space (carrier-grade NAT)
	[[127, 0, 0, 0], 8], // loopback (RFC 1122)
	[[169, 254, 0, 0], 16], // link-local (RFC 3927), cloud metadata
	[[172, 16, 0, 0], 12], // RFC 1918
	[[192, 0, 0, 0], 24], // IETF protocol assignments (RFC 6890)
	[[192, 168, 0, 0], 16], // RFC 1918
	[[198, 18, 0, 0], 15], // benchmarking (RFC 2544)
	[[224, 0, 0, 0], 4], // multicast (RFC 5771)
	[[240, 0, 0, 0], 4] // reserved (RFC 1112), and the limited broadcast 255.255.255.255
];

/**
 * The host as a URL parser (and so a socket) reads it: a lower-case name (punycode for IDNs), a
 * dotted-quad IPv4 address, or a bracketed compressed IPv6 address. Null when `host` is not one
 * host (a port, a path, user info, a percent escape) or cannot be parsed at all.
 */
export function canonicalHost(host: string): string | null {
	const trimmed = host.trim();
	const bare = trimmed.startsWith('[') && trimmed.endsWith(']') ? trimmed.slice(1, -1) : trimmed;
	// Nothing that would make the URL parser read more than a host, or decode escapes into one.
	if (bare === '' || /[\s/?#@\\[\]%]/.test(bare)) return null;
	// A colon outside brackets is a port unless the whole is an IPv6 literal (then bracket it).
	const literal = bare.includes(':') ? `[${bare}]` : bare;
	let url: URL;
	try {
		url = new URL(`http://${literal}/`);
	} catch {
		return null;
	}
	if (url.port !== '' || url.username !== '' || url.password !== '' || url.pathname !== '/' || url.search !== '' || url.hash !== '') return null;
	return url.hostname;
}

/** The four numbers of a canonical dotted quad, or null. */
function ipv4Of(host: string): number[] | null {
	const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
	return match ? match.slice(1).map(Number) : null;
}

/** The eight 16-bit groups of a canonical (URL-serialised: hex only, compressed) IPv6 address. */
function ipv6Of(host: string): number[] | null {
	const bare = host.replace(/^\[|\]$/g, '');
	if (!bare.includes(':')) return null;
	const [head = '', tail] = bare.split('::');
	const part = (text: string) => (text === '' ? [] : text.split(':').map((group) => parseInt(group, 16)));
	const left = part(head);
	const right = tail === undefined ? [] : part(tail);
	const groups = tail === undefined ? left : [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
	return groups.length === 8 && groups.every((group) => Number.isInteger(group) && group >= 0 && group <= 0xffff) ? groups : null;
}

function inBlock(address: number[], [base, prefix]: [number[], number]): boolean {
	const toInt = (octets: number[]) => octets.reduce((value, octet) => value * 256 + octet, 0);
	const size = 2 ** (32 - prefix);
	return Math.floor(toInt(address) / size) === Math.floor(toInt(base) / size);
}

function isPrivateV4(address: number[]): boolean {
	return PRIVATE_V4.some((block) => inBlock(address, block));
}

/** The IPv4 address in the low 32 bits of `groups[at]` and `groups[at + 1]`. */
const embeddedV4 = (groups: number[], at: number) => [groups[at]! >> 8, groups[at]! & 255, groups[at + 1]! >> 8, groups[at + 1]! & 255];

function isPrivateV6(groups: number[]): boolean {
	const [first = 0, second = 0] = groups;
	const zeros = (from: number, to: number) => groups.slice(from, to).every((group) => group === 0);
	// ::/96: the unspecified address, loopback and the deprecated IPv4-compatible addresses (RFC 4291 §2.5.5.1).
	if (zeros(0, 6)) return true;
	// ::ffff:0:0/96, IPv4-mapped (RFC 4291 §2.5.5.2): the IPv4 address it names.
	if (zeros(0, 5) && groups[5] === 0xffff) return isPrivateV4(embeddedV4(groups, 6));
	// 64:ff9b::/96 and 64:ff9b:1::/48, NAT64 (RFC 6052, RFC 8215): a translator reaches any IPv4 address.
	if (first === 0x64 && second === 0xff9b) return true;
	// 100::/64 discard-only (RFC 6666).
	if (first === 0x100 && zeros(1, 4)) return true;
	// 2001::/32 Teredo (RFC 4380): a tunnel to an IPv4 address of its choosing.
	if (first === 0x2001 && second === 0) return true;
	// 2002::/16 6to4 (RFC 3056): the IPv4 address it tunnels to.
	if (first === 0x2002) return isPrivateV4(embeddedV4(groups, 1));
	// fc00::/7 unique local (RFC 4193), fe80::/10 link-local, fec0::/10 site-local (RFC 3879), ff00::/8 multicast.
	return (first & 0xfe00) === 0xfc00 || (first & 0xffc0) === 0xfe80 || (first & 0xffc0) === 0xfec0 || (first & 0xff00) === 0xff00;
}

/**
 * Whether `host` (any spelling a user may type or a URL may carry) is a loopback, private,
 * link-local, special-purpose or local-only address or name, or is not one host at all. Public
 * host names are not resolved here: a Worker's sockets and fetch cannot reach private networks.
 */
export function isPrivateHost(host: string): boolean {
	const canonical = canonicalHost(host);
	if (canonical === null) return true;
	const name = canonical.replace(/\.$/, '');
	const v6 = ipv6Of(name);
	if (v6) return isPrivateV6(v6);
	const v4 = ipv4Of(name);
	if (v4) return isPrivateV4(v4);
	// A single label resolves through local search domains only.
	return name === '' || LOCAL_NAMES.test(name) || !name.includes('.');
}

/** Whether `host` is this machine (127.0.0.0/8, ::1, their mapped forms, localhost names: RFC 6761 §6.3). */
export function isLoopbackHost(host: string): boolean {
	const canonical = canonicalHost(host);
	if (canonical === null) return false;
	const name = canonical.replace(/\.$/, '');
	const v6 = ipv6Of(name);
	if (v6) {
		const zeros = v6.slice(0, 5).every((group) => group === 0);
		return (zeros && v6[5] === 0 && v6[6] === 0 && v6[7] === 1) || (zeros && v6[5] === 0xffff && v6[6]! >> 8 === 127);
	}
	const v4 = ipv4Of(name);
	if (v4) return v4[0] === 127;
	return name === 'localhost' || name.endsWith('.localhost');
}
