/**
 * SPEC §13's round trip: a probe composed like a reply, sent through the mailbox's own SMTP
 * server (the one SMTP path: StagedSession + sendTransaction) to its own service address,
 * carrying `X-Mailgate-Probe: TOKEN` (only the token's SHA-256 is stored). email() recognises
 * it by that token, before the normal path's side effects, and records when it arrived and the
 * SPF/DKIM/DMARC verdict Mailgate's own inbound checks gave it: what customers' servers will
 * think of replies. No arrival within PROBE_TIMEOUT_SECONDS ends the round trip as `fail`,
 * with the likely causes; the read paths and the 5-minute sweep close such checks.
 */
import { HEADER_TOKEN_LATE_GRACE_MS, hashHeaderToken, newHeaderToken, readHeaderToken } from '../mail/header-token';
import { PROBE_TIMEOUT_SECONDS, type DnsFindings, type FlowCheck, type ProbeSend, type RoundTrip } from '../../src/lib/schema/flow-check';
import type { StoredMailbox } from '../db/mailboxes';
import { closeExpiredCheck, findFlowCheckByToken, insertFlowCheck, listExpiredChecks, patchRoundTrip, recordDns } from '../db/flow-checks';
import { createCachingResolver, createDohResolver, DEFAULT_DNS_RESOLVER_URL, type DnsResolver } from '../dns/doh-resolver';
import { authResultValues, type AuthResult } from '../inbound/authenticate';
import { composeMessage } from '../mail/compose';
import { QUIT_TIMEOUT_MS, REPLY_TIMEOUT_MS, TOTAL_BUDGET_MS } from '../smtp/limits';
import { smtpLoginFor } from '../smtp/credentials';
import { StagedSession, type SessionOptions } from '../smtp/staged-session';
import { sendTransaction } from '../smtp/transaction';
import { checkDns } from './dns-checks';

export const PROBE_HEADER = 'X-Mailgate-Probe';
export const PROBE_TIMEOUT_MS = PROBE_TIMEOUT_SECONDS * 1000;
/** How long after its check's time a probe's token still makes mail a probe, so a late probe is noted on the failed check (SPEC §13). */
export const PROBE_LATE_GRACE_MS = HEADER_TOKEN_LATE_GRACE_MS;

export interface FlowDependencies {
	now?: () => Date;
	/** Replaces the SMTP session (tests); production opens worker-mailer over cloudflare:sockets. */
	openSession?: SessionOptions['openSession'];
	resolver?: DnsResolver;
}

export interface StartedCheck {
	check: FlowCheck;
	token: string;
}

/** Records a new check (`running`), or null when one of this mailbox is still running. */
export async function startFlowCheck(db: D1Database, mailbox: StoredMailbox, at: Date): Promise<StartedCheck | null> {
	const token = newHeaderToken();
	const domain = domainOf(mailbox.address);
	const roundTrip: RoundTrip = {
		result: 'running',
		step: 'sending',
		says: `Sending the probe through ${mailbox.smtp.host} to ${mailbox.address}.`,
		to: mailbox.address,
		messageId: `${crypto.randomUUID()}@${domain}`,
		sentAt: null,
		smtp: null,
		arrivedAt: null,
		durationMs: null,
		auth: null,
		logId: null,
		lateArrivalAt: null
	};
	const check: FlowCheck = {
		id: crypto.randomUUID(),
		mailboxId: mailbox.id,
		startedAt: at.toISOString(),
		finishedAt: null,
		expiresAt: new Date(at.getTime() + PROBE_TIMEOUT_MS).toISOString(),
		status: 'running',
		dns: null,
		roundTrip,
		result: 'running'
	};
	const inserted = await insertFlowCheck(db, { ...check, tokenHash: await hashHeaderToken(token) });
	return inserted ? { check, token } : null;
}

/**
 * The work after the 202: the DNS lookups and the probe's send, side by side. Each records its
 * own part; nothing here throws (a part that never finishes is closed by the timeout).
 */
export async function runFlowCheck(env: Env, started: StartedCheck, mailbox: StoredMailbox, deps: FlowDependencies = {}): Promise<void> {
	const now = deps.now ?? (() => new Date());
	const guard = (part: string) => (error: unknown) =>
		console.error('flow_check_error', { part, check: started.check.id, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
	await Promise.all([runDns(env, started.check, mailbox, now, deps.resolver).catch(guard('dns')), sendProbe(env, started, mailbox, now, deps).catch(guard('probe'))]);
}

async function runDns(env: Env, check: FlowCheck, mailbox: StoredMailbox, now: () => Date, resolver?: DnsResolver): Promise<void> {
	const dns = await checkDns({
		domain: domainOf(mailbox.address),
		smtpHost: mailbox.smtp.host,
		resolver: createCachingResolver(resolver ?? createDohResolver({ url: env.DNS_RESOLVER_URL || DEFAULT_DNS_RESOLVER_URL }))
	});
	await recordDns(env.DB, check.id, dns, now().toISOString());
}

async function sendProbe(env: Env, { check, token }: StartedCheck, mailbox: StoredMailbox, now: () => Date, deps: FlowDependencies): Promise<void> {
	const started = now();
	const fail = (smtp: Omit<ProbeSend, 'durationMs'>) => {
		const send: ProbeSend = { ...smtp, durationMs: now().getTime() - started.getTime() };
		return patchRoundTrip(env.DB, check.id, { result: 'fail', step: 'send_failed', smtp: send, says: sendFailedSays(mailbox, send) }, { fromSteps: ['sending'], at: now().toISOString() });
	};
	// The mailbox's password or OAuth access token (SPEC §12), as the SMTP test and replies get theirs.
	const login = await smtpLoginFor(env, mailbox, { now: () => now().getTime() });
	if (!login.ok) {
		const { stage, category, hint } = login.failure;
		return void (await fail({ ok: false, stage, category, hint }));
	}

	const opened = await StagedSession.open({
		settings: login.settings,
		allowPrivateHosts: env.ALLOW_PRIVATE_SMTP_HOSTS === 'true',
		budgetMs: TOTAL_BUDGET_MS,
		openSession: deps.openSession
	});
	const { session } = opened;
	if (opened.refusal) return void (await fail({ ok: false, stage: 'connect', category: 'config', hint: opened.refusal }));
	if (opened.failure) {
		// A refused OAuth token may mean the access was withdrawn: then that is what to say (reconnect).
		const withdrawn = opened.failure.stage === 'auth' ? await login.afterAuthRefused() : null;
		if (withdrawn) return void (await fail({ ok: false, stage: 'auth', category: withdrawn.category, hint: withdrawn.hint }));
		return void (await fail({ ok: false, stage: opened.failure.stage, ...session.explain(opened.failure) }));
	}

	const { raw } = composeProbe(mailbox, check.roundTrip.messageId, token, started);
	// The whole send shares the SMTP test's 14-second budget, well inside the 30 seconds
	// waitUntil allows after the response.
	const left = Math.max(0, TOTAL_BUDGET_MS - (session.now() - session.started));
	const result = await sendTransaction(session, {
		from: mailbox.address,
		recipients: [mailbox.address],
		message: raw,
		limits: { replyMs: Math.min(REPLY_TIMEOUT_MS, left), dataMs: Math.min(REPLY_TIMEOUT_MS * 2, left) }
	});
	const at = now();
	if (!result.ok) {
		session.abort();
		const explained = session.explain({ stage: result.stage, failure: result.failure });
		if (result.dataSent) {
			// The probe went out and the answer was lost: it may still arrive, so keep waiting for it.
			const smtp: ProbeSend = { ok: false, stage: 'data', ...explained, category: 'timeout', durationMs: at.getTime() - started.getTime() };
			await patchRoundTrip(env.DB, check.id, { step: 'waiting', smtp, says: waitingSays(mailbox) }, { fromSteps: ['sending'], at: at.toISOString() });
			return;
		}
		await fail({ ok: false, stage: result.stage, ...explained });
		return;
	}
	await session.quit(QUIT_TIMEOUT_MS);
	const smtp: ProbeSend = {
		ok: true,
		stage: 'data',
		category: null,
		code: result.reply.code,
		enhancedCode: result.reply.enhancedCode,
		serverMessage: result.reply.raw,
		hint: `${mailbox.smtp.host} accepted the probe for delivery.`,
		durationMs: at.getTime() - started.getTime()
	};
	// On one machine the probe can be back before the server's 250 is: then only the send is added.
	const moved = await patchRoundTrip(env.DB, check.id, { step: 'waiting', sentAt: at.toISOString(), smtp, says: waitingSays(mailbox) }, { fromSteps: ['sending'], at: at.toISOString() });
	if (!moved) await patchRoundTrip(env.DB, check.id, { sentAt: at.toISOString(), smtp }, { fromSteps: ['arrived', 'timed_out'], at: at.toISOString() });
}

/** The probe: composed like a reply (From the mailbox, to its own address), marked by its token. */
export function composeProbe(mailbox: Pick<StoredMailbox, 'name' | 'address'>, messageId: string, token: string, date: Date) {
	return composeMessage({
		from: { name: mailbox.name, address: mailbox.address },
		to: [mailbox.address],
		cc: [],
		subject: 'Mailgate mail flow check',
		text:
			`Mailgate sent this message to check that mail from and to ${mailbox.address} works (Check mail flow).\r\n` +
			'It comes back to Mailgate by itself and is never handed to the help desk; if you see it anywhere, you may delete it.',
		attachments: [],
		messageId,
		inReplyTo: null,
		references: [],
		date,
		// RFC 3834 §5: an automatic message, so no auto-reply answers it.
		extraHeaders: { [PROBE_HEADER]: token, 'Auto-Submitted': 'auto-generated' }
	});
}

// ---- email(): recognising the probe ----

export interface ProbeAuth {
	spf: AuthResult;
	dkim: AuthResult;
	dmarc: AuthResult;
}

/**
 * The check a delivery is the probe of: its X-Mailgate-Probe token must hash to a check of
 * the mailbox it was delivered to whose time (plus PROBE_LATE_GRACE_MS) has not run out at
 * `at`. Anything else (no header, a token of another mailbox, an expired or made-up one) is
 * ordinary mail. Costs a query only when the header is there.
 */
export async function findProbeCheck(
	db: D1Database,
	options: { headers: ReadonlyArray<{ key: string; value: string }>; mailboxId: string; at: Date }
): Promise<FlowCheck | null> {
	const token = readHeaderToken(options.headers, PROBE_HEADER);
	if (!token) return null;
	const check = await findFlowCheckByToken(db, await hashHeaderToken(token), new Date(options.at.getTime() - PROBE_LATE_GRACE_MS).toISOString());
	return check && check.mailboxId === options.mailboxId ? check : null;
}

/**
 * Records the probe's arrival on its check: in time, the round trip ends with the verdict it
 * got; late (after the check gave up), the check is closed as timed out and notes when it came.
 * Idempotent: a redelivered probe changes nothing.
 */
export async function recordProbeArrival(
	db: D1Database,
	check: FlowCheck,
	arrival: { at: Date; auth: Record<keyof ProbeAuth, string>; logId: string }
): Promise<void> {
	const at = arrival.at.toISOString();
	if (arrival.at.getTime() <= Date.parse(check.expiresAt)) {
		const auth: ProbeAuth = { spf: asResult(arrival.auth.spf), dkim: asResult(arrival.auth.dkim), dmarc: asResult(arrival.auth.dmarc) };
		const verdict = judgeProbe(auth, domainOf(check.roundTrip.to));
		const durationMs = arrival.at.getTime() - Date.parse(check.startedAt);
		await patchRoundTrip(
			db,
			check.id,
			{ ...verdict, step: 'arrived', arrivedAt: at, durationMs, auth, logId: arrival.logId, says: verdict.says },
			{ fromSteps: ['sending', 'waiting'], at }
		);
		return;
	}
	await closeExpiredCheck(db, check.id, timeoutPatches(check));
	await patchRoundTrip(db, check.id, { lateArrivalAt: at, logId: arrival.logId }, { fromSteps: ['timed_out'], at });
}

/**
 * What the probe's verdict means for replies (SPEC §13): DMARC decides whether customers'
 * servers accept them as the domain's; SPF and DKIM say what that rests on.
 */
export function judgeProbe(auth: ProbeAuth, domain: string): { result: 'ok' | 'warn' | 'fail'; says: string } {
	const { spf, dkim, dmarc } = auth;
	const both = `SPF ${spf}, DKIM ${dkim}`;
	if (dmarc === 'pass') {
		if (dkim === 'pass') {
			return { result: 'ok', says: `DMARC passes (${both}): customers' servers will accept replies as genuinely from ${domain}, forwarded ones included.` };
		}
		return {
			result: 'ok',
			says: `DMARC passes on SPF alone (DKIM ${dkim}): customers' servers will accept replies from ${domain}, but a customer's server that forwards them breaks SPF, so sign replies with DKIM too.`
		};
	}
	if (dmarc === 'fail') {
		return {
			result: 'fail',
			says: `DMARC fails (${both}): customers' servers that follow ${domain}'s policy will refuse replies or put them in spam. Fix SPF or DKIM above so that one of them passes for ${domain}.`
		};
	}
	if (dmarc === 'none') {
		return {
			result: 'warn',
			says: `${domain} publishes no DMARC policy, so customers' servers judge replies on ${both} alone, and some (Gmail, Yahoo) file unauthenticated mail as spam. Publish a DMARC record (see above).`
		};
	}
	return { result: 'warn', says: `DMARC could not be evaluated (${dmarc}; ${both}), usually because a DNS lookup failed for now. Run the check again.` };
}

// ---- The timeout ----

/** What a check that ran out of time says, for where its round trip stopped (SPEC §13: the likely causes). */
export function timeoutPatches(check: FlowCheck): { neverSent: Partial<RoundTrip>; noArrival: Partial<RoundTrip>; dns: DnsFindings } {
	const address = check.roundTrip.to;
	const domain = domainOf(address);
	const mx = check.dns?.mx;
	const cause =
		mx?.result === 'fail'
			? `The MX check above is the likely cause: mail to ${domain} ${mx.found.length ? `goes to ${mx.found.map((record) => record.split(' ').pop()).join(', ')}` : 'has nowhere to go'}, not to Cloudflare Email Routing.`
			: `Check that Email Routing has an active rule sending ${address} to the Worker (action "Send to a Worker"), that the domain's MX records are Cloudflare's, and whether the SMTP server held or bounced the probe after accepting it (its Sent folder or message trace).`;
	const unknown = { result: 'unknown' as const, found: [], says: 'The DNS lookups did not finish before the check gave up; run the check again.' };
	return {
		neverSent: {
			result: 'fail',
			step: 'timed_out',
			says: `The probe was never handed to the SMTP server (the check stopped before it could send). Run the check again; if this repeats, run the SMTP sending test.`
		},
		noArrival: {
			result: 'fail',
			step: 'timed_out',
			says: `The SMTP server accepted the probe, but it did not reach Mailgate within ${PROBE_TIMEOUT_SECONDS} seconds. ${cause}`
		},
		dns: { mx: unknown, spf: unknown, dmarc: unknown, dkim: unknown }
	};
}

/** Closes every running check past its time (the read paths and the 5-minute sweep call this). */
export async function closeExpiredFlowChecks(db: D1Database, now: Date): Promise<number> {
	let closed = 0;
	for (const check of await listExpiredChecks(db, now.toISOString())) {
		if (await closeExpiredCheck(db, check.id, timeoutPatches(check))) closed++;
	}
	return closed;
}

// ---- Small pure helpers ----

function sendFailedSays(mailbox: StoredMailbox, smtp: ProbeSend): string {
	return `${mailbox.smtp.host} did not take the probe (${smtp.stage}${smtp.serverMessage ? `: ${smtp.serverMessage}` : ''}), so replies cannot leave either. ${smtp.hint}`;
}

function waitingSays(mailbox: StoredMailbox): string {
	return `${mailbox.smtp.host} accepted the probe; waiting for it to come back to ${mailbox.address} through Email Routing (up to ${PROBE_TIMEOUT_SECONDS} seconds).`;
}

function asResult(value: string): AuthResult {
	return (authResultValues as readonly string[]).includes(value) ? (value as AuthResult) : 'temperror';
}

export function domainOf(address: string): string {
	return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}
