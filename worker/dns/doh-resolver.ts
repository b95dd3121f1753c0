/**
 * DNS over HTTPS for mailauth: a resolver with the contract of Node's
 * `dns.promises.resolve(name, rrtype)`, which is what mailauth's `resolver` option expects
 * (its default is `dns.resolve`), answered by a DoH server's JSON API.
 *
 * RFC 8484 standardises DoH with the DNS wire format; Cloudflare's and Google's resolvers also
 * serve the same answers as JSON (`?name=…&type=…`, `accept: application/dns-json`), which needs
 * no wire-format parser. The JSON carries the RCODE (RFC 1035 §4.1.1) as `Status` and each RR
 * as `{ name, type, TTL, data }` with `data` in presentation format.
 *
 * What mailauth does with the outcome (node_modules/mailauth/lib, 7.1.0):
 * - `ENOTFOUND` (NXDOMAIN) and `ENODATA` (no record of the type) mean "no record": SPF `none`
 *   or a void lookup, DKIM/ARC "no key", DMARC no policy (spf/index.js limitedResolver,
 *   tools.js KEY_ERROR_COMMENTS, dmarc/get-dmarc-record.js NO_RECORD_CODES).
 * - `EBADNAME` is an invalid name: SPF permerror, DMARC no record.
 * - Every other code (`ETIMEOUT`, `EREFUSED`, `ESERVFAIL`, `EBADRESP`, `ECONNREFUSED`, …) is a
 *   temporary failure: SPF temperror (RFC 7208 §4.4, §5), DKIM temperror ("DNS failure: CODE"),
 *   DMARC temperror. So a DNS failure can never turn into a pass or a `none`.
 */
import type { DNSResolver } from 'mailauth';

/** Cloudflare's public resolver; `DNS_RESOLVER_URL` overrides it. */
export const DEFAULT_DNS_RESOLVER_URL = 'https://cloudflare-dns.com/dns-query';

/**
 * One DoH query may take this long before it is a temporary error (`ETIMEOUT`). A public
 * resolver answers from cache in milliseconds, and gives up on unresponsive authoritative
 * servers itself after a few seconds (answering SERVFAIL). SPF may need up to 10 lookups
 * in sequence (RFC 7208 §4.6.4) and the sending MTA waits for our SMTP reply, so a query that
 * has not answered in 4 s is treated as failed rather than waited for.
 */
export const DNS_QUERY_TIMEOUT_MS = 4_000;

/**
 * CNAMEs followed inside one answer. Resolvers already cap chains (RFC 1034 §3.6.2 warns about
 * loops); the cap here only keeps a malformed answer from looping the walk.
 */
const MAX_CNAME_CHAIN = 16;

/** RFC 1035 §2.3.4: 255 octets on the wire, so 253 characters in text without the root dot. */
const MAX_NAME_LENGTH = 253;
const MAX_LABEL_LENGTH = 63;

/** The RR types mailauth asks for (spf, dkim, dmarc, arc, mta-sts), by their IANA numbers. */
const RR_TYPE_NUMBERS = { A: 1, NS: 2, CNAME: 5, PTR: 12, MX: 15, TXT: 16, AAAA: 28 } as const;
export type RrType = keyof typeof RR_TYPE_NUMBERS;

/** RCODEs (RFC 1035 §4.1.1) mapped to the `code` Node's resolver (c-ares) gives them. */
const RCODE_ERRORS: Record<number, string> = {
	1: 'EFORMERR',
	2: 'ESERVFAIL',
	3: 'ENOTFOUND',
	4: 'ENOTIMP',
	5: 'EREFUSED'
};

export interface MxRecord {
	exchange: string;
	priority: number;
}

/**
 * TXT answers are `string[][]`, one array per record, as from Node. Node puts each
 * character-string of a record (RFC 1035 §3.3.14: at most 255 octets each) in its own element;
 * here they are already joined, so each record is a one-element array. mailauth joins a record's
 * elements with '' anyway (spf-verify.js, tools.js getPublicKey, dmarc fetchRecord), so it
 * behaves the same, and other callers get the record text without joining it themselves.
 */
export interface DnsResolver {
	(name: string, rrtype: 'TXT'): Promise<string[][]>;
	(name: string, rrtype: 'MX'): Promise<MxRecord[]>;
	(name: string, rrtype: 'A' | 'AAAA' | 'CNAME' | 'NS' | 'PTR'): Promise<string[]>;
	(name: string, rrtype: string): Promise<DnsAnswer>;
}
export type DnsAnswer = string[][] | MxRecord[] | string[];

export interface CachingResolver extends DnsResolver {
	/** Every question actually sent, in order; a repeated question is answered from the cache. */
	readonly queries: ReadonlyArray<{ name: string; rrtype: string }>;
}

/** A DNS failure, shaped like Node's resolver errors (`code`, `hostname`) that mailauth reads. */
export class DnsError extends Error {
	readonly code: string;
	readonly hostname: string;
	readonly rrtype: string;
	readonly detail: string | undefined;

	constructor(code: string, hostname: string, rrtype: string, detail?: string) {
		super(`query${rrtype} ${code} ${hostname}${detail ? `: ${detail}` : ''}`);
		this.name = 'DnsError';
		this.code = code;
		this.hostname = hostname;
		this.rrtype = rrtype;
		this.detail = detail;
	}
}

export interface DohResolverOptions {
	/** The DoH endpoint, e.g. `env.DNS_RESOLVER_URL || DEFAULT_DNS_RESOLVER_URL`. */
	url: string;
	fetch?: typeof fetch;
	timeoutMs?: number;
}

/** A resolver that sends every question to the DoH server. Wrap it in `createCachingResolver` per message. */
export function createDohResolver(options: DohResolverOptions): DnsResolver {
	const url = new URL(options.url);
	// Called as a plain function: workerd rejects a `fetch` detached from the global object.
	const send = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));
	const timeoutMs = options.timeoutMs ?? DNS_QUERY_TIMEOUT_MS;
	if (!(timeoutMs > 0)) throw new RangeError(`timeoutMs must be positive, got ${timeoutMs}`);

	const resolve = async (name: string, rrtype: string): Promise<DnsAnswer> => {
		const type = toRrType(rrtype);
		const qname = normalizeName(name);
		const badName = validateName(qname);
		if (badName) throw new DnsError('EBADNAME', name, type, badName);

		const request = new URL(url);
		request.searchParams.set('name', qname);
		request.searchParams.set('type', type);

		const controller = new AbortController();
		let timer: ReturnType<typeof setTimeout> | undefined;
		const timeout = new Promise<never>((_, reject) => {
			timer = setTimeout(() => {
				controller.abort();
				reject(new DnsError('ETIMEOUT', name, type, `no answer within ${timeoutMs} ms`));
			}, timeoutMs);
		});
		const exchange = async () => {
			let response: Response;
			try {
				response = await send(request, { headers: { accept: 'application/dns-json' }, signal: controller.signal });
			} catch (error) {
				throw new DnsError('ECONNREFUSED', name, type, error instanceof Error ? error.message : String(error));
			}
			if (!response.ok) {
				await response.body?.cancel();
				throw new DnsError('EBADRESP', name, type, `HTTP ${response.status}`);
			}
			let body: unknown;
			try {
				body = JSON.parse(await response.text());
			} catch {
				throw new DnsError('EBADRESP', name, type, 'the answer is not JSON');
			}
			return parseDohAnswer(body, { name, rrtype: type });
		};
		try {
			// The race also ends a hung body read, and an injected fetch that ignores the signal.
			return await Promise.race([exchange(), timeout]);
		} finally {
			clearTimeout(timer);
		}
	};
	// mailauth's resolver contract has one signature; the overloads only narrow it for callers.
	return resolve as DnsResolver;
}

/**
 * Asks each (name, type) once: wrap the DoH resolver in one of these per message, so SPF,
 * DKIM, DMARC and ARC share answers. Failures are cached too, so a name that timed out
 * does not cost another timeout later in the same message. Each caller gets its own copy,
 * since mailauth sorts MX lists in place and writes `spfResult` onto errors.
 */
export function createCachingResolver(resolver: DnsResolver): CachingResolver {
	const answers = new Map<string, Promise<DnsAnswer>>();
	const queries: Array<{ name: string; rrtype: string }> = [];

	const resolve = (name: string, rrtype: string): Promise<DnsAnswer> => {
		const key = `${rrtype.toUpperCase()} ${normalizeName(name)}`;
		let answer = answers.get(key);
		if (!answer) {
			queries.push({ name, rrtype });
			answer = resolver(name, rrtype);
			// Rejections reach every caller below; this only stops an unhandled-rejection report.
			answer.catch(() => {});
			answers.set(key, answer);
		}
		return answer.then(
			(records) => structuredClone(records),
			(error: unknown) => {
				throw error instanceof DnsError ? new DnsError(error.code, error.hostname, error.rrtype, error.detail) : error;
			}
		);
	};
	return Object.assign(resolve, { queries }) as CachingResolver;
}

/** mailauth types its `resolver` without the `{ exchange, priority }` objects it reads for MX (spf-verify.js). */
export function toMailauthResolver(resolver: DnsResolver): DNSResolver {
	return resolver as unknown as DNSResolver;
}

// ---- Pure parsing: plain values in, plain values out. ----

const utf8 = new TextEncoder();

interface DohRecord {
	name: string;
	type: number;
	data: string;
}

/**
 * Turns a DoH JSON answer into Node's result for the question: an error for a non-zero RCODE,
 * `ENODATA` for an answer without records of the asked type, else the records, following a
 * CNAME chain from the question name (RFC 1034 §3.6.2) and keeping only records of that type.
 */
export function parseDohAnswer(body: unknown, question: { name: string; rrtype: RrType }): DnsAnswer {
	const { name, rrtype } = question;
	if (!isObject(body) || typeof body.Status !== 'number') {
		throw new DnsError('EBADRESP', name, rrtype, 'the answer has no Status');
	}
	if (body.Status !== 0) {
		const code = RCODE_ERRORS[body.Status] ?? 'EBADRESP';
		throw new DnsError(code, name, rrtype, `RCODE ${body.Status}`);
	}
	const answer = body.Answer ?? [];
	if (!Array.isArray(answer) || !answer.every(isDohRecord)) {
		throw new DnsError('EBADRESP', name, rrtype, 'malformed Answer section');
	}

	const wanted = RR_TYPE_NUMBERS[rrtype];
	let owner = normalizeName(name);
	let records: DohRecord[] = [];
	for (let step = 0; step <= MAX_CNAME_CHAIN; step++) {
		const ownedBy = answer.filter((record) => normalizeName(record.name) === owner);
		records = ownedBy.filter((record) => record.type === wanted);
		if (records.length > 0 || rrtype === 'CNAME') break;
		const alias = ownedBy.find((record) => record.type === RR_TYPE_NUMBERS.CNAME);
		if (!alias) break;
		owner = normalizeName(alias.data);
	}
	if (records.length === 0) throw new DnsError('ENODATA', name, rrtype);
	return parseRecords(question, records.map((record) => record.data));
}

/** The presentation-format `data` of the answer's records, in Node's result shape. */
export function parseRecords(question: { name: string; rrtype: RrType }, data: string[]): DnsAnswer {
	switch (question.rrtype) {
		case 'TXT':
			return data.map((text) => [parseTxtData(text).join('')]);
		case 'MX': {
			const records = data.map(parseMxData);
			if (!records.every((record) => record !== undefined)) {
				throw new DnsError('EBADRESP', question.name, 'MX', 'malformed MX data');
			}
			// Node leaves the order to the server; sorting by preference (RFC 5321 §5.1) is what every caller wants.
			return records.sort((a, b) => a.priority - b.priority);
		}
		case 'A':
		case 'AAAA':
			return data.map((address) => address.trim());
		case 'CNAME':
		case 'NS':
		case 'PTR':
			return data.map(normalizeName);
	}
}

/**
 * The character-strings of one TXT record's `data`. Cloudflare sends them in zone-file
 * presentation (RFC 1035 §5.1): each quoted, separated by spaces, with `\"`, `\\` and `\DDD`
 * (decimal octet) escapes: `"v=spf1 " "include:x"` → `['v=spf1 ', 'include:x']`. Google sends
 * an unquoted single string, which is taken as it is.
 */
export function parseTxtData(data: string): string[] {
	if (!data.trimStart().startsWith('"')) return [data];
	const strings: string[] = [];
	let i = 0;
	const next = () => {
		const char = String.fromCodePoint(data.codePointAt(i)!);
		i += char.length;
		return char;
	};
	while (i < data.length) {
		if (data[i] === ' ' || data[i] === '\t') {
			i++;
			continue;
		}
		const quoted = data[i] === '"';
		if (quoted) i++;
		const octets: number[] = [];
		while (i < data.length) {
			if (quoted ? data[i] === '"' : data[i] === ' ' || data[i] === '\t') break;
			const char = next();
			if (char === '\\' && /^\d{3}/.test(data.slice(i, i + 3))) {
				octets.push(Number(data.slice(i, i + 3)) & 0xff);
				i += 3;
			} else {
				octets.push(...utf8.encode(char === '\\' && i < data.length ? next() : char));
			}
		}
		if (quoted) i++; // the closing quote
		strings.push(new TextDecoder().decode(new Uint8Array(octets)));
	}
	return strings;
}

/** `10 mx.example.com.` → `{ priority: 10, exchange: 'mx.example.com' }`, Node's shape; undefined if malformed. */
export function parseMxData(data: string): MxRecord | undefined {
	const [preference = '', exchange] = data.trim().split(/\s+/);
	const priority = Number(preference);
	if (preference === '' || !Number.isInteger(priority) || exchange === undefined) return undefined;
	// Null MX (RFC 7505) is "0 ."; Node returns an empty exchange for it, and so does this.
	return { priority, exchange: normalizeName(exchange) };
}

/** Lower case without the root's trailing dot, as Node returns names. */
export function normalizeName(name: string): string {
	return name.trim().replace(/\.$/, '').toLowerCase();
}

/** Why a name cannot be queried (Node's `EBADNAME`), or undefined when it can. */
function validateName(name: string): string | undefined {
	if (name.length === 0 || name.length > MAX_NAME_LENGTH) return `name length ${name.length}`;
	if (name.split('.').some((label) => label.length === 0 || label.length > MAX_LABEL_LENGTH)) return 'empty or over-long label';
	return undefined;
}

function toRrType(rrtype: string): RrType {
	const type = rrtype.toUpperCase();
	if (!Object.hasOwn(RR_TYPE_NUMBERS, type)) throw new TypeError(`Unsupported DNS record type ${rrtype}`);
	return type as RrType;
}

function isObject(value: unknown): value is Record<string, unknown> {
	return typeof value === 'object' && value !== null;
}

function isDohRecord(value: unknown): value is DohRecord {
	return isObject(value) && typeof value.name === 'string' && typeof value.type === 'number' && typeof value.data === 'string';
}
