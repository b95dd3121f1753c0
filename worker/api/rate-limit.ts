/**
 * Rate limits on the routes a runaway client could hammer (issue 18): sending replies and
 * downloading originals, attachments and composed replies, per API key and per mailbox.
 * Counted in D1 (db/rate-limits.ts), so a limit holds across every instance of the Worker, in
 * fixed one-minute windows: one conditional upsert per limit, and a fixed window's slack (up to
 * twice a limit around a window's edge) does not matter at figures this far above real use.
 * Over a limit: 429 with Retry-After (RFC 6585 §4, RFC 9110 §10.2.3) in the SPEC §7 error shape.
 *
 * The mail flow check and the SMTP test count what they record instead (`enforceRecentLimit`):
 * each check and test is a row already, so ten minutes of them need no counter.
 */
import type { Principal } from '../auth/authenticate';
import { countedBy, takeStatement, type Admission } from '../db/rate-limits';
import { HttpError } from './http';

export interface RateLimit {
	/** Names the limit in its counters and in RATE_LIMITS overrides. */
	name: string;
	/** Requests let through in one window. */
	limit: number;
	windowMs: number;
	/** What is counted, for the 429's message: "Too many {says} …". */
	says: string;
}

const MINUTE_MS = 60_000;

export const RATE_LIMITS = {
	/**
	 * Replies through one mailbox, whoever sends them (API keys and the admin's browser): twice
	 * the fastest rate a known provider takes from one mailbox (SPEC §15: Microsoft 365, 30 a
	 * minute), so accepting more would only grow the queue. One reply a second, nonstop, is more
	 * than a team of agents writes; a loop that answers every webhook with a reply reaches it
	 * within a minute.
	 */
	outboundPerMailbox: { name: 'outbound-mailbox', limit: 60, windowMs: MINUTE_MS, says: 'replies through this mailbox' },
	/** Replies through one API key, over all its integration's mailboxes: two mailboxes at their full rate. */
	outboundPerKey: { name: 'outbound-key', limit: 120, windowMs: MINUTE_MS, says: 'replies with this API key' },
	/**
	 * Downloads (an original, an attachment, a composed reply) with one API key: five a second,
	 * nonstop, is more than a help desk fetching every attachment of every message as its
	 * webhooks arrive; a client stuck re-fetching 25 MiB originals reaches it within a minute.
	 */
	downloadsPerKey: { name: 'download-key', limit: 300, windowMs: MINUTE_MS, says: 'downloads with this API key' },
	/** Downloads of one mailbox's mail, whoever asks: the same figure, so the admin's token is bounded too. */
	downloadsPerMailbox: { name: 'download-mailbox', limit: 300, windowMs: MINUTE_MS, says: "downloads of this mailbox's mail" }
} as const satisfies Record<string, RateLimit>;

/** The largest figure RATE_LIMITS may set: an override changes a limit, it never switches one off. */
const MAX_OVERRIDE = 1_000_000;
const KNOWN_NAMES = new Set<string>(Object.values(RATE_LIMITS).map((limit) => limit.name));

/**
 * `RATE_LIMITS` (optional Worker variable): `name=N` pairs, comma-separated, that replace the
 * figures above (`outbound-mailbox=120, download-key=600`); a deployment whose desk needs more
 * raises them, the tests lower them. An entry that is not a known name and a whole number
 * from 1 to MAX_OVERRIDE is ignored (and said in the log), never turned into no limit.
 */
export function parseRateLimitOverrides(value: string | undefined): Map<string, number> {
	const overrides = new Map<string, number>();
	for (const entry of (value ?? '').split(',')) {
		if (!entry.trim()) continue;
		const match = /^\s*([a-z-]{1,40})\s*=\s*(\d{1,7})\s*$/.exec(entry);
		const figure = match ? Number(match[2]) : 0;
		if (match && KNOWN_NAMES.has(match[1]!) && figure >= 1 && figure <= MAX_OVERRIDE) overrides.set(match[1]!, figure);
		else console.warn('rate_limits_ignored', { entry: entry.slice(0, 60) });
	}
	return overrides;
}

/** One limit and whom it counts (an API key's id, a mailbox's id). */
export interface RateCheck {
	limit: RateLimit;
	subject: string;
}

/** The limits on one kind of request about a mailbox: the mailbox's for everyone, the key's for an API key. */
const LIMITS_OF = {
	/** A reply through the mailbox. */
	outbound: { perMailbox: RATE_LIMITS.outboundPerMailbox, perKey: RATE_LIMITS.outboundPerKey },
	/** A download of the mailbox's mail (null: a delivery to no service address, admin only). */
	download: { perMailbox: RATE_LIMITS.downloadsPerMailbox, perKey: RATE_LIMITS.downloadsPerKey }
} as const;

/** What a request of this kind about `mailboxId` counts against. */
export function rateChecks(kind: keyof typeof LIMITS_OF, principal: Principal | undefined, mailboxId: string | null): RateCheck[] {
	const { perMailbox, perKey } = LIMITS_OF[kind];
	const checks: RateCheck[] = [{ limit: perMailbox, subject: mailboxId ?? 'none' }];
	if (principal?.kind === 'key') checks.push({ limit: perKey, subject: principal.keyId });
	return checks;
}

/** A request's counting, prepared (`enforce` throws the 429 with Retry-After). */
export interface PreparedLimits extends Admission {
	/** Whether this isolate refused one of these counters in its current window already: a client still at it is answered before its body is read. */
	refusedLately: boolean;
}

/**
 * Counters this isolate saw refuse, until their window ends: a runaway client is then refused at
 * the cost of one batch, without its body read, composed or stored first (api/outbound.ts). Only a
 * shortcut: D1 decides. Bounded: cleared when this many are remembered.
 */
const MAX_REMEMBERED_REFUSALS = 1000;
const refusedUntil = new Map<string, number>();

/**
 * Counts the request against each check. Over a limit: 429 with Retry-After, the seconds until
 * the latest refusing window ends. A request refused by one limit may still have counted against
 * another: the client is over a limit either way, and counting never lets anything past one.
 */
export function prepareRateLimits(context: { db: D1Database; now: () => Date; overrides: string }, checks: readonly RateCheck[]): PreparedLimits {
	const at = context.now().getTime();
	const overrides = parseRateLimitOverrides(context.overrides);
	const windows = checks.map(({ limit, subject }) => ({
		...limit,
		limit: overrides.get(limit.name) ?? limit.limit,
		bucket: `${limit.name}:${subject}`,
		start: Math.floor(at / limit.windowMs) * limit.windowMs
	}));
	const takes = windows.map((window) => ({ bucket: window.bucket, windowStart: window.start, limit: window.limit }));
	return {
		takes,
		statements: takes.map((take) => takeStatement(context.db, take.bucket, take.windowStart, take.limit)),
		refusedLately: windows.some((window) => (refusedUntil.get(window.bucket) ?? 0) > at),
		enforce(results) {
			const counted = countedBy(results);
			const refused = windows.filter((_, index) => !counted[index]);
			if (refused.length === 0) return;
			if (refusedUntil.size >= MAX_REMEMBERED_REFUSALS) refusedUntil.clear();
			for (const window of refused) refusedUntil.set(window.bucket, window.start + window.windowMs);
			const retryAfter = Math.max(1, ...refused.map((window) => Math.ceil((window.start + window.windowMs - at) / 1000)));
			const first = refused[0]!;
			throw rateLimited(`Too many ${first.says}: at most ${first.limit} a minute. Try again in ${retryAfter} seconds.`, retryAfter);
		}
	};
}

/** `prepareRateLimits` run alone, in one batch (one transaction). */
export async function enforceRateLimits(context: { db: D1Database; now: () => Date; overrides: string }, checks: readonly RateCheck[]): Promise<void> {
	const limits = prepareRateLimits(context, checks);
	limits.enforce(limits.statements.length > 0 ? await context.db.batch(limits.statements) : []);
}

/** A limit on recorded work (SMTP tests, mail flow checks): so many per mailbox, and overall, in a window. */
export interface RecentLimit {
	perMailbox: number;
	overall: number;
	windowMs: number;
	/** What is counted, for the 429's message: "Too many {says} in the last …". */
	says: string;
}

/**
 * Refuses (429) when the records counted since the window's start reach either limit. Retry-After
 * is a tenth of the window: the oldest records leave it bit by bit, not all at its end.
 */
export async function enforceRecentLimit(
	limit: RecentLimit,
	now: Date,
	countSince: (since: string) => Promise<{ mailbox: number; overall: number }>
): Promise<void> {
	const recent = await countSince(new Date(now.getTime() - limit.windowMs).toISOString());
	if (recent.mailbox < limit.perMailbox && recent.overall < limit.overall) return;
	const minutes = Math.round(limit.windowMs / MINUTE_MS);
	throw rateLimited(`Too many ${limit.says} in the last ${minutes} minutes; wait a few minutes and try again.`, Math.ceil(limit.windowMs / 1000 / 10));
}

/** The SPEC §7 429 with Retry-After in seconds (RFC 6585 §4, RFC 9110 §10.2.3). */
export function rateLimited(message: string, retryAfterSeconds: number): HttpError {
	return new HttpError(429, 'rate_limited', message, { headers: { 'retry-after': String(retryAfterSeconds) } });
}
