/**
 * SPEC §13: what the service address's domain publishes in DNS, judged for a help desk that
 * receives through Cloudflare Email Routing and replies through the mailbox's SMTP server.
 * Pure over DNS answers: the resolver is injected (DNS over HTTPS in production, the loopback
 * DoH server in tests), and so is mailauth's SPF evaluation. Every outcome is a finding
 * (`ok`, `warn`, `fail`, `unknown`) with what was found and one or two sentences of what to
 * change; a lookup that failed is `unknown`, never a pass.
 */
import { spf as mailauthSpf } from 'mailauth';
import type { DnsFinding, DnsFindings } from '../../src/lib/schema/flow-check';
import { DnsError, toMailauthResolver, type DnsResolver, type MxRecord } from '../dns/doh-resolver';

/** Cloudflare Email Routing's MX hosts: the records Email Routing adds to a domain. */
export const CLOUDFLARE_MX_HOSTS = ['route1.mx.cloudflare.net', 'route2.mx.cloudflare.net', 'route3.mx.cloudflare.net'] as const;

/**
 * Providers whose SMTP submission host does not send the mail itself: their outbound servers
 * are named by the SPF include they document, and they sign with these DKIM selectors once the
 * domain's own signing is turned on (Microsoft 365: selector1/selector2 CNAMEs; Google
 * Workspace: the `google` TXT record).
 */
export const PROVIDERS = [
	{
		name: 'Microsoft 365',
		hosts: ['smtp.office365.com'],
		spfInclude: 'spf.protection.outlook.com',
		dkimSelectors: ['selector1', 'selector2'],
		dkimHowTo: 'Turn on DKIM for the domain in the Microsoft Defender portal (Email authentication settings) and publish the selector1 and selector2 CNAME records it shows.'
	},
	{
		name: 'Google Workspace',
		hosts: ['smtp.gmail.com', 'smtp-relay.gmail.com'],
		spfInclude: '_spf.google.com',
		dkimSelectors: ['google'],
		dkimHowTo: 'Generate a DKIM key in the Google Admin console (Apps › Google Workspace › Gmail › Authenticate email), publish the google._domainkey TXT record and press Start authentication.'
	}
] as const;
export type Provider = (typeof PROVIDERS)[number];

/** RFC 7208 §4.6.4: at most 10 terms that cause DNS lookups, counted across includes and redirects. */
export const SPF_MAX_LOOKUPS = 10;
/** Addresses of the SMTP host evaluated with SPF: enough to see a mixed answer, few enough to stay quick. */
const MAX_SPF_ADDRESSES = 3;
/** Nested includes followed when counting lookups; a deeper chain is over the limit anyway. */
const MAX_SPF_DEPTH = SPF_MAX_LOOKUPS;

export type SpfEvaluate = typeof mailauthSpf;

export interface DnsCheckInput {
	/** The service address's domain. */
	domain: string;
	/** The mailbox's SMTP server address (host name or IP literal). */
	smtpHost: string;
	resolver: DnsResolver;
	/** mailauth's SPF check (the default); injectable. */
	evaluateSpf?: SpfEvaluate;
}

export function providerOf(smtpHost: string): Provider | null {
	const host = smtpHost.trim().toLowerCase().replace(/\.$/, '');
	return PROVIDERS.find((provider) => (provider.hosts as readonly string[]).includes(host)) ?? null;
}

/** The four findings, looked up side by side. */
export async function checkDns(input: DnsCheckInput): Promise<DnsFindings> {
	const [mx, spf, dmarc, dkim] = await Promise.all([
		checkMx(input),
		checkSpf(input),
		checkDmarc(input),
		checkDkim(input)
	]);
	return { mx, spf, dmarc, dkim };
}

// ---- MX ----

export async function checkMx({ domain, resolver }: Pick<DnsCheckInput, 'domain' | 'resolver'>): Promise<DnsFinding> {
	let records: MxRecord[];
	try {
		records = (await answerOrNone(() => resolver(domain, 'MX'))) ?? [];
	} catch (error) {
		return lookupFailed(`the MX records of ${domain}`, error);
	}
	const found = records.map((record) => `${record.priority} ${record.exchange || '.'}`);
	if (records.length === 0) {
		return {
			result: 'fail',
			found,
			says: `${domain} has no MX records, so mail to it cannot reach Cloudflare Email Routing. Enable Email Routing for ${domain} in the Cloudflare dashboard; it adds ${CLOUDFLARE_MX_HOSTS.join(', ')}.`
		};
	}
	// RFC 7505: a null MX ("0 .") says the domain accepts no mail at all.
	if (records.some((record) => record.exchange === '')) {
		return {
			result: 'fail',
			found,
			says: `${domain} publishes a null MX (RFC 7505: it accepts no mail), so senders give up at once. Remove it and enable Email Routing for ${domain}.`
		};
	}
	const isCloudflare = (record: MxRecord) => (CLOUDFLARE_MX_HOSTS as readonly string[]).includes(record.exchange);
	const ours = records.filter(isCloudflare);
	const others = records.filter((record) => !isCloudflare(record));
	const named = others.map((record) => record.exchange).join(', ');
	if (ours.length === 0) {
		return {
			result: 'fail',
			found,
			says: `Mail to ${domain} goes to ${named}, not to Cloudflare Email Routing, so it never reaches Mailgate. Replace these MX records with ${CLOUDFLARE_MX_HOSTS.join(', ')} (enable Email Routing for the domain), or have ${named} forward the service address natively.`
		};
	}
	const best = (list: MxRecord[]) => Math.min(...list.map((record) => record.priority));
	if (others.length > 0 && best(others) <= best(ours)) {
		// RFC 5321 §5.1: senders try the lowest preference first, and spread mail over equal ones.
		return {
			result: 'fail',
			found,
			says: `${named} ${others.length === 1 ? 'has' : 'have'} the same or a better MX preference than Cloudflare's hosts, so mail to ${domain} goes there too and never reaches Mailgate. Remove ${others.length === 1 ? 'it' : 'them'}, or give Cloudflare's hosts the lowest number.`
		};
	}
	if (others.length > 0) {
		return {
			result: 'warn',
			found,
			says: `Mail reaches Cloudflare Email Routing, but ${named} is a backup MX: whenever Cloudflare cannot be reached, mail goes there and reaches Mailgate only if that server forwards it. Remove the backup unless it does.`
		};
	}
	const missing = CLOUDFLARE_MX_HOSTS.filter((host) => !ours.some((record) => record.exchange === host));
	if (missing.length > 0) {
		return {
			result: 'warn',
			found,
			says: `Mail reaches Cloudflare Email Routing, but ${missing.join(' and ')} ${missing.length === 1 ? 'is' : 'are'} missing. Add ${missing.length === 1 ? 'it' : 'them'} as Email Routing shows, so mail still arrives when one host is down.`
		};
	}
	return { result: 'ok', found, says: `Mail to ${domain} goes to Cloudflare Email Routing. Its routing rule must send the service address to the Worker; the round trip below checks that.` };
}

// ---- SPF ----

const SPF_RECORD = /^v=spf1(\s|$)/i;

export async function checkSpf({ domain, smtpHost, resolver, evaluateSpf = mailauthSpf }: DnsCheckInput): Promise<DnsFinding> {
	let records: string[];
	try {
		records = ((await answerOrNone(() => resolver(domain, 'TXT'))) ?? []).map((strings) => strings.join('')).filter((text) => SPF_RECORD.test(text));
	} catch (error) {
		return lookupFailed(`the SPF record of ${domain}`, error);
	}
	const provider = providerOf(smtpHost);
	const allow = provider ? `include:${provider.spfInclude}` : `the include or addresses ${smtpHost}'s provider documents`;
	if (records.length === 0) {
		return {
			result: 'fail',
			found: [],
			says: `${domain} publishes no SPF record, so receivers cannot tell that ${smtpHost} may send for it, and replies without an aligned DKIM signature fail DMARC. Publish one TXT record: ${provider ? `"v=spf1 include:${provider.spfInclude} -all"` : `"v=spf1 … -all" with ${allow}`}.`
		};
	}
	if (records.length > 1) {
		return {
			result: 'fail',
			found: records,
			says: `${domain} publishes ${records.length} SPF records; RFC 7208 §4.5 makes that a permanent error, so SPF fails for all of its mail. Merge them into one record.`
		};
	}
	const record = records[0]!;
	const all = /(?:^|\s)([+?~-]?)all(?:\s|$)/i.exec(record);
	if (all && (all[1] === '+' || all[1] === '')) {
		return {
			result: 'fail',
			found: records,
			says: `The SPF record ends in "${all[1]}all", which lets any server on the internet send as ${domain}, so receivers trust it no more than no record. End it with "-all" (or "~all") after ${allow}.`
		};
	}
	let walk: SpfWalk;
	try {
		walk = await walkSpf(domain, resolver);
	} catch (error) {
		return lookupFailed(`the includes of ${domain}'s SPF record`, error);
	}
	if (walk.lookups > SPF_MAX_LOOKUPS) {
		return {
			result: 'fail',
			found: [...records, `${walk.lookups} DNS lookups`],
			says: `The SPF record needs ${walk.lookups} DNS lookups; RFC 7208 §4.6.4 allows ${SPF_MAX_LOOKUPS}, and receivers that reach the limit answer permerror, which fails DMARC. Remove includes you no longer send through, or replace them with ip4:/ip6: ranges.`
		};
	}
	const found = [...records, `${walk.lookups} of ${SPF_MAX_LOOKUPS} DNS lookups`];
	if (provider) {
		// The provider's submission host is not where its mail leaves from: its include names those servers.
		if (walk.includes.has(provider.spfInclude)) {
			return { result: 'ok', found, says: `SPF allows ${provider.name} to send for ${domain} (include:${provider.spfInclude}).` };
		}
		return {
			result: 'fail',
			found,
			says: `The SPF record does not include ${provider.spfInclude}, so ${provider.name}'s servers are not allowed to send for ${domain} and replies can fail SPF. Add include:${provider.spfInclude} before the "all".`
		};
	}

	let addresses: string[];
	try {
		addresses = await addressesOf(smtpHost, resolver);
	} catch (error) {
		return lookupFailed(`the addresses of ${smtpHost}`, error);
	}
	if (addresses.length === 0) {
		return { result: 'unknown', found, says: `${smtpHost} has no address in DNS, so Mailgate cannot tell whether SPF allows it. Check the SMTP server address; the round trip below shows what receivers see.` };
	}
	const verdicts = await Promise.all(
		addresses.map(async (ip) => {
			try {
				const result = await evaluateSpf({ sender: `postmaster@${domain}`, ip, helo: smtpHost, mta: 'mailgate', resolver: toMailauthResolver(resolver) });
				return { ip, result: String(result.status?.result ?? 'temperror') };
			} catch {
				return { ip, result: 'temperror' };
			}
		})
	);
	const named = (list: typeof verdicts) => list.map((v) => v.ip).join(', ');
	const passed = verdicts.filter((v) => v.result === 'pass');
	const failed = verdicts.filter((v) => v.result !== 'pass');
	found.push(...verdicts.map((v) => `${v.ip}: ${v.result}`));
	const server = addresses.length === 1 && addresses[0] === smtpHost ? smtpHost : `${smtpHost} (${named(verdicts)})`;
	if (failed.length === 0) return { result: 'ok', found, says: `SPF allows ${server} to send for ${domain}.` };
	if (failed.some((v) => v.result === 'temperror')) {
		return { result: 'unknown', found, says: `SPF could not be evaluated for ${smtpHost} (a DNS lookup failed for now); run the check again.` };
	}
	if (passed.length > 0) {
		return { result: 'warn', found, says: `SPF allows ${named(passed)} but not ${named(failed)}, both addresses of ${smtpHost}. Add the missing ones, or the include ${smtpHost}'s provider documents.` };
	}
	const hard = failed.some((v) => v.result === 'fail' || v.result === 'permerror');
	return {
		result: hard ? 'fail' : 'warn',
		found,
		says: `SPF does not allow ${server} to send for ${domain} (${failed[0]!.result}). Add ${allow}${addresses.length === 1 ? ` or ip${addresses[0]!.includes(':') ? '6' : '4'}:${addresses[0]}` : ''} to the record.`
	};
}

interface SpfWalk {
	/** Terms that cost a DNS lookup (RFC 7208 §4.6.4), across includes and redirects. */
	lookups: number;
	/** Every include and redirect target reached, lower case. */
	includes: Set<string>;
}

/**
 * Counts the lookups of a domain's SPF record the way RFC 7208 §4.6.4 does (include, a, mx,
 * ptr, exists, redirect), following includes and redirects. Targets with macros cannot be
 * followed without a sender and are counted once.
 */
export async function walkSpf(domain: string, resolver: DnsResolver): Promise<SpfWalk> {
	const includes = new Set<string>();
	const visit = async (name: string, depth: number, seen: ReadonlySet<string>): Promise<number> => {
		const texts = (await answerOrNone(() => resolver(name, 'TXT'))) ?? [];
		const record = texts.map((strings) => strings.join('')).find((text) => SPF_RECORD.test(text));
		if (!record) return 0;
		let lookups = 0;
		const follow: string[] = [];
		for (const term of record.split(/\s+/).slice(1)) {
			const mechanism = /^[+?~-]?(include|a|mx|ptr|exists)(?:[:/]|$)/i.exec(term)?.[1]?.toLowerCase();
			const target = /^[+?~-]?include:(.+)$/i.exec(term)?.[1] ?? /^redirect=(.+)$/i.exec(term)?.[1];
			if (mechanism || /^redirect=/i.test(term)) lookups++;
			if (target) {
				const normal = target.toLowerCase().replace(/\.$/, '');
				includes.add(normal);
				if (!normal.includes('%') && !seen.has(normal) && depth < MAX_SPF_DEPTH) follow.push(normal);
			}
		}
		const below = new Set([...seen, name]);
		const nested = await Promise.all(follow.map((target) => visit(target, depth + 1, below)));
		return lookups + nested.reduce((sum, count) => sum + count, 0);
	};
	const lookups = await visit(domain.toLowerCase(), 0, new Set());
	return { lookups, includes };
}

/** The SMTP host's addresses: an IP literal as it is, a name through A and AAAA. */
async function addressesOf(host: string, resolver: DnsResolver): Promise<string[]> {
	const literal = host.replace(/^\[|\]$/g, '').replace(/^IPv6:/i, '');
	if (/^\d{1,3}(\.\d{1,3}){3}$/.test(literal) || literal.includes(':')) return [literal];
	const [v4, v6] = await Promise.all([answerOrNone(() => resolver(host, 'A')), answerOrNone(() => resolver(host, 'AAAA'))]);
	return [...(v4 ?? []), ...(v6 ?? [])].slice(0, MAX_SPF_ADDRESSES);
}

// ---- DMARC ----

const DMARC_RECORD = /^v=DMARC1\s*(;|$)/i;

export async function checkDmarc({ domain, resolver }: Pick<DnsCheckInput, 'domain' | 'resolver'>): Promise<DnsFinding> {
	// RFC 7489 §6.6.3 (and the DMARCbis tree walk): without a record at the domain itself, the
	// policy of a parent domain applies. The walk stops above the last two labels.
	const labels = domain.toLowerCase().split('.');
	let records: string[] = [];
	let at = '';
	try {
		for (let i = 0; i <= labels.length - 2 && records.length === 0; i++) {
			at = labels.slice(i).join('.');
			records = ((await answerOrNone(() => resolver(`_dmarc.${at}`, 'TXT'))) ?? [])
				.map((strings) => strings.join(''))
				.filter((text) => DMARC_RECORD.test(text));
		}
	} catch (error) {
		return lookupFailed(`the DMARC record of ${domain}`, error);
	}
	if (records.length === 0) {
		return {
			result: 'warn',
			found: [],
			says: `There is no DMARC record at _dmarc.${domain}: receivers apply no policy, send no reports, and large ones such as Gmail and Yahoo expect one. Publish "v=DMARC1; p=none; rua=mailto:postmaster@${domain}" to start, then move to p=quarantine once reports show your mail passing.`
		};
	}
	const found = records.map((record) => `_dmarc.${at}: ${record}`);
	if (records.length > 1) {
		return { result: 'fail', found, says: `_dmarc.${at} holds ${records.length} DMARC records, and receivers then ignore them all (RFC 7489 §6.6.3). Keep one.` };
	}
	const tags = new Map(
		records[0]!
			.split(';')
			.map((part) => part.trim().split('='))
			.filter((pair): pair is [string, string] => pair.length >= 2)
			.map(([key, ...value]) => [key.trim().toLowerCase(), value.join('=').trim()] as const)
	);
	const inherited = at !== domain.toLowerCase();
	const policy = (inherited ? (tags.get('sp') ?? tags.get('p')) : tags.get('p'))?.toLowerCase();
	const where = inherited ? ` (inherited from ${at})` : '';
	const reports = tags.get('rua')
		? ` Aggregate reports go to ${tags.get('rua')}.`
		: ' It asks for no reports: add rua=mailto:… to see who sends as the domain.';
	if (policy === 'reject' || policy === 'quarantine') {
		return {
			result: 'ok',
			found,
			says: `The DMARC policy is p=${policy}${where}: receivers ${policy === 'reject' ? 'refuse' : 'put in spam'} mail that fails DMARC, so replies must pass SPF or DKIM aligned with ${domain}.${reports}`
		};
	}
	if (policy === 'none') {
		return {
			result: 'warn',
			found,
			says: `The DMARC policy is p=none${where}: monitoring only, so mail forged as ${domain} is still delivered. Once the reports show your own mail passing, move to p=quarantine, then p=reject.${reports}`
		};
	}
	return { result: 'fail', found, says: `The DMARC record has no valid policy (p=none, quarantine or reject), so receivers ignore it. Fix the p= tag.` };
}

// ---- DKIM ----

export async function checkDkim({ domain, smtpHost, resolver }: Pick<DnsCheckInput, 'domain' | 'smtpHost' | 'resolver'>): Promise<DnsFinding> {
	const provider = providerOf(smtpHost);
	if (!provider) {
		return {
			result: 'unknown',
			found: [],
			says: `Mailgate does not know which DKIM selector ${smtpHost} signs with, so it cannot look the key up. The round trip below shows whether replies arrive signed for ${domain} (DKIM pass).`
		};
	}
	let keys: Array<{ selector: string; record: string | null }>;
	try {
		keys = await Promise.all(
			provider.dkimSelectors.map(async (selector) => {
				const texts = (await answerOrNone(() => resolver(`${selector}._domainkey.${domain}`, 'TXT'))) ?? [];
				// RFC 6376 §3.6.1: an empty p= is a revoked key.
				const record = texts.map((strings) => strings.join('')).find((text) => /(^|;)\s*p=[^;\s]+/.test(text)) ?? null;
				return { selector, record };
			})
		);
	} catch (error) {
		return lookupFailed(`the DKIM keys of ${domain}`, error);
	}
	const published = keys.filter((key) => key.record !== null);
	const found = published.map((key) => `${key.selector}._domainkey.${domain}`);
	if (published.length === keys.length) {
		return { result: 'ok', found, says: `${provider.name}'s DKIM key${keys.length > 1 ? 's are' : ' is'} published for ${domain}, so replies can be signed with the domain itself and pass DMARC even when forwarded.` };
	}
	const missing = keys.filter((key) => key.record === null).map((key) => `${key.selector}._domainkey.${domain}`);
	if (published.length > 0) {
		return { result: 'warn', found, says: `${missing.join(' and ')} has no key; ${provider.name} switches between its selectors when it rotates keys, and signing stops working then. ${provider.dkimHowTo}` };
	}
	return {
		result: 'fail',
		found,
		says: `There is no DKIM key at ${missing.join(' or ')}, so ${provider.name} signs replies with its own domain, which does not align with ${domain}: DMARC then rests on SPF alone and fails when mail is forwarded. ${provider.dkimHowTo}`
	};
}

// ---- Shared ----

/** The answer, or null when the name has no record of that type (NXDOMAIN, NODATA); other failures throw. */
async function answerOrNone<T>(lookup: () => Promise<T>): Promise<T | null> {
	try {
		return await lookup();
	} catch (error) {
		if (error instanceof DnsError && (error.code === 'ENOTFOUND' || error.code === 'ENODATA')) return null;
		throw error;
	}
}

function lookupFailed(what: string, error: unknown): DnsFinding {
	const code = error instanceof DnsError ? error.code : error instanceof Error ? error.message : String(error);
	return {
		result: 'unknown',
		found: [],
		says: `Looking up ${what} failed (${code}); this is usually temporary, so run the check again in a minute.`
	};
}
