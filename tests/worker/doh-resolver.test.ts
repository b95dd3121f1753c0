/**
 * The DoH resolver against a real DoH JSON server on loopback (tests/worker/doh-server.ts),
 * and mailauth's SPF check through it: DNS answers and failures must reach mailauth with the
 * codes Node's resolver would give, so DNS failures become temperror (RFC 7208 §4.4).
 */
import { env } from 'cloudflare:test';
import { spf } from 'mailauth';
import { beforeAll, describe, expect, it } from 'vitest';
import {
	DNS_QUERY_TIMEOUT_MS,
	createCachingResolver,
	createDohResolver,
	parseTxtData,
	toMailauthResolver
} from '../../worker/dns/doh-resolver';

// The binding is set in vitest.worker.config.ts from the DoH server's `dohOrigin`.
const dohUrl = env.DNS_RESOLVER_URL;
const control = new URL(dohUrl).origin;
// The server is shared with other test files; everything here lives under one random zone.
const zone = `z${crypto.randomUUID().slice(0, 8)}.test`;
const at = (label: string) => `${label}.${zone}`;

const addRecords = async (records: Array<{ name: string; type: string; data: string }>) => {
	const response = await fetch(`${control}/zone`, { method: 'POST', body: JSON.stringify({ records }) });
	expect(response.status).toBe(200);
};
const serverQueries = async (suffix: string) =>
	(await (await fetch(`${control}/queries?suffix=${encodeURIComponent(suffix)}`)).json()) as Array<{ name: string; type: string }>;

/** The `code` a rejected lookup carries, or 'resolved'. */
const codeOf = (lookup: Promise<unknown>) =>
	lookup.then(
		() => 'resolved',
		(error: { code?: string }) => error.code
	);

const resolver = createDohResolver({ url: dohUrl });

beforeAll(async () => {
	await addRecords([
		{ name: at('multi'), type: 'TXT', data: '"v=spf1 " "include:_spf.example.net" " -all"' },
		{ name: at('multi'), type: 'TXT', data: '"second record"' },
		{ name: at('escaped'), type: 'TXT', data: '"say \\"hi\\" \\\\ \\065\\195\\169"' },
		{ name: at('mail'), type: 'MX', data: '20 mx2.example.net.' },
		{ name: at('mail'), type: 'MX', data: '10 mx1.example.net.' },
		{ name: at('host'), type: 'A', data: '192.0.2.1' },
		{ name: at('host'), type: 'A', data: '192.0.2.2' },
		{ name: at('host'), type: 'AAAA', data: '2001:db8::1' },
		{ name: at('1.2.0.192.in-addr'), type: 'PTR', data: 'host.example.net.' },
		{ name: at('txt-only'), type: 'TXT', data: '"hello"' },
		{ name: 's1._domainkey.' + at('keys'), type: 'TXT', data: '"v=DKIM1; p="' },
		{ name: at('alias'), type: 'CNAME', data: `${at('middle')}.` },
		{ name: at('middle'), type: 'CNAME', data: `${at('target')}.` },
		{ name: at('target'), type: 'TXT', data: '"at the end of the chain"' },
		{ name: at('dangling'), type: 'CNAME', data: `gone.${zone}.` }
	]);
});

describe('answers in the shape of dns.promises.resolve', () => {
	it('joins the character-strings of each TXT record, one array per record', async () => {
		expect(await resolver(at('multi'), 'TXT')).toEqual([['v=spf1 include:_spf.example.net -all'], ['second record']]);
	});

	it('decodes TXT escapes: \\" \\\\ and \\DDD octets', async () => {
		expect(await resolver(at('escaped'), 'TXT')).toEqual([['say "hi" \\ Aé']]);
	});

	it('returns MX as { exchange, priority }, sorted by preference, without the trailing dot', async () => {
		expect(await resolver(at('mail'), 'MX')).toEqual([
			{ exchange: 'mx1.example.net', priority: 10 },
			{ exchange: 'mx2.example.net', priority: 20 }
		]);
	});

	it('returns A, AAAA and PTR as strings', async () => {
		expect(await resolver(at('host'), 'A')).toEqual(['192.0.2.1', '192.0.2.2']);
		expect(await resolver(at('host'), 'AAAA')).toEqual(['2001:db8::1']);
		expect(await resolver(at('1.2.0.192.in-addr'), 'PTR')).toEqual(['host.example.net']);
	});

	it('follows a CNAME chain and returns only records of the asked type', async () => {
		expect(await resolver(at('alias'), 'TXT')).toEqual([['at the end of the chain']]);
		expect(await resolver(at('alias'), 'CNAME')).toEqual([at('middle')]);
		expect(await codeOf(resolver(at('alias'), 'A'))).toBe('ENODATA');
		expect(await codeOf(resolver(at('dangling'), 'TXT'))).toBe('ENOTFOUND');
	});

	it('sends the name and type as the JSON API expects', async () => {
		await resolver(`Host.${zone}.`, 'a');
		expect(await serverQueries(at('host'))).toContainEqual({ name: at('host'), type: 'A' });
	});
});

describe('no records versus failures', () => {
	it('NXDOMAIN is ENOTFOUND', async () => {
		expect(await codeOf(resolver(at('nowhere'), 'TXT'))).toBe('ENOTFOUND');
	});

	it('an empty answer is ENODATA, also for an empty non-terminal (RFC 8020)', async () => {
		expect(await codeOf(resolver(at('txt-only'), 'MX'))).toBe('ENODATA');
		expect(await codeOf(resolver('_domainkey.' + at('keys'), 'TXT'))).toBe('ENODATA');
	});

	it('SERVFAIL, REFUSED, HTTP errors and malformed JSON are temporary-error codes', async () => {
		expect(await codeOf(resolver(at('servfail'), 'TXT'))).toBe('ESERVFAIL');
		expect(await codeOf(resolver(at('refused'), 'TXT'))).toBe('EREFUSED');
		expect(await codeOf(resolver(at('http500'), 'TXT'))).toBe('EBADRESP');
		expect(await codeOf(resolver(at('badjson'), 'TXT'))).toBe('EBADRESP');
		// An injected fetch stands in for an unreachable server (a refused loopback port makes workerd log noise).
		const unreachable = createDohResolver({ url: dohUrl, fetch: () => Promise.reject(new TypeError('Network connection lost.')) });
		expect(await codeOf(unreachable(at('host'), 'A'))).toBe('ECONNREFUSED');
	});

	it('a name that cannot be sent is EBADNAME, without a query', async () => {
		expect(await codeOf(resolver(`${'a'.repeat(64)}.${zone}`, 'TXT'))).toBe('EBADNAME');
		expect(await codeOf(resolver(`a..${zone}`, 'TXT'))).toBe('EBADNAME');
	});

	it(`a server that never answers is ETIMEOUT after DNS_QUERY_TIMEOUT_MS (${DNS_QUERY_TIMEOUT_MS} ms)`, { timeout: DNS_QUERY_TIMEOUT_MS + 5_000 }, async () => {
		const started = Date.now();
		const error = await resolver(at('hang'), 'TXT').catch((caught: unknown) => caught);
		const elapsed = Date.now() - started;
		expect(error).toMatchObject({ code: 'ETIMEOUT', hostname: at('hang') });
		expect(elapsed).toBeGreaterThanOrEqual(DNS_QUERY_TIMEOUT_MS - 50);
		expect(elapsed).toBeLessThan(DNS_QUERY_TIMEOUT_MS + 1_000);
	});
});

describe('per-message cache', () => {
	it('sends each (name, type) once, failures included, and hands out copies', async () => {
		const cached = createCachingResolver(resolver);
		const name = at('mail');
		const [first, second] = await Promise.all([cached(name, 'MX'), cached(name.toUpperCase(), 'mx')]);
		expect(second).toEqual(first);
		first.reverse();
		expect((await cached(name, 'MX'))[0]).toEqual({ exchange: 'mx1.example.net', priority: 10 });
		await cached(name, 'TXT').catch(() => {});
		expect(await codeOf(cached(at('servfail'), 'A'))).toBe('ESERVFAIL');
		expect(await codeOf(cached(at('servfail'), 'A'))).toBe('ESERVFAIL');

		expect(cached.queries).toEqual([
			{ name, rrtype: 'MX' },
			{ name, rrtype: 'TXT' },
			{ name: at('servfail'), rrtype: 'A' }
		]);
		const sent = await serverQueries(zone);
		expect(sent.filter((query) => query.name === name && query.type === 'MX')).toHaveLength(1 + 1); // +1: the uncached test above
		expect(sent.filter((query) => query.name === at('servfail') && query.type === 'A')).toHaveLength(1);
	});
});

describe('TXT presentation format (pure)', () => {
	it('splits quoted character-strings and keeps an unquoted answer (Google) as it is', () => {
		expect(parseTxtData('"v=spf1 " "include:x"')).toEqual(['v=spf1 ', 'include:x']);
		expect(parseTxtData('"a\\"b" "\\\\"')).toEqual(['a"b', '\\']);
		expect(parseTxtData('"caf\\195\\169 ☕ 𝄞"')).toEqual(['café ☕ 𝄞']);
		expect(parseTxtData('v=spf1 -all')).toEqual(['v=spf1 -all']);
		expect(parseTxtData('""')).toEqual(['']);
	});
});

describe('mailauth SPF through the resolver', () => {
	const spfZone = `spf.${zone}`;
	const check = (domain: string, ip: string, options: { timeoutMs?: number } = {}) =>
		spf({
			sender: `bounce@${domain}`,
			ip,
			helo: 'mail.example.net',
			mta: 'mx.mailgate.test',
			resolver: toMailauthResolver(createCachingResolver(createDohResolver({ url: dohUrl, ...options })))
		});

	beforeAll(async () => {
		await addRecords([
			// Split into character-strings, with mx and include, as large senders publish it.
			{ name: `ok.${spfZone}`, type: 'TXT', data: `"v=spf1 mx " "include:_spf.ok.${spfZone} -all"` },
			{ name: `ok.${spfZone}`, type: 'MX', data: `10 mx.ok.${spfZone}.` },
			{ name: `mx.ok.${spfZone}`, type: 'A', data: '192.0.2.25' },
			{ name: `_spf.ok.${spfZone}`, type: 'TXT', data: '"v=spf1 ip4:198.51.100.0/24 ip6:2001:db8:1::/48 -all"' },
			{ name: `other.${spfZone}`, type: 'TXT', data: '"google-site-verification=abc"' },
			{ name: `broken.${spfZone}`, type: 'TXT', data: `"v=spf1 include:servfail.${spfZone} -all"` },
			{ name: `slow.${spfZone}`, type: 'TXT', data: `"v=spf1 include:hang.${spfZone} -all"` }
		]);
	});

	it('pass: the client is listed via mx, include and ip6', async () => {
		expect((await check(`ok.${spfZone}`, '192.0.2.25')).status.result).toBe('pass');
		expect((await check(`ok.${spfZone}`, '198.51.100.7')).status.result).toBe('pass');
		expect((await check(`ok.${spfZone}`, '2001:db8:1::25')).status.result).toBe('pass');
	});

	it('fail: the client is not listed', async () => {
		expect((await check(`ok.${spfZone}`, '203.0.113.9')).status.result).toBe('fail');
	});

	it('none: no such domain, or no SPF record among its TXT records', async () => {
		expect((await check(`missing.${spfZone}`, '203.0.113.9')).status.result).toBe('none');
		expect((await check(`other.${spfZone}`, '203.0.113.9')).status.result).toBe('none');
	});

	it('temperror: SERVFAIL for the domain or an include, never pass or none', async () => {
		expect((await check(`servfail.${spfZone}`, '192.0.2.25')).status.result).toBe('temperror');
		expect((await check(`broken.${spfZone}`, '192.0.2.25')).status.result).toBe('temperror');
	});

	it('temperror: an include whose DNS never answers', async () => {
		const result = await check(`slow.${spfZone}`, '192.0.2.25', { timeoutMs: 200 });
		expect(result.status.result).toBe('temperror');
		expect(result.status.comment).toContain('DNS timeout');
	});
});
