/**
 * SPEC §13, the probe coming back: email() recognises it by its X-Mailgate-Probe token (only the
 * token's SHA-256 is stored), before the normal path's side effects, and records when it arrived
 * and the SPF/DKIM/DMARC verdict Mailgate's own inbound checks gave it: what customers' servers
 * will think of replies.
 */
import { domainOf } from '../../src/lib/schema/address';
import type { FlowCheck } from '../../src/lib/schema/flow-check';
import { closeExpiredCheck, findFlowCheckByToken, patchRoundTrip } from '../db/flow-checks';
import { authResultValues, type AuthResult } from '../inbound/authenticate';
import { HEADER_TOKEN_LATE_GRACE_MS, hashHeaderToken, readHeaderToken } from '../mail/header-token';
import { timeoutPatches } from './timeout-patches';

/** The header that marks the probe (probe.ts writes it; only its token's SHA-256 is stored). */
export const PROBE_HEADER = 'X-Mailgate-Probe';

/** How long after its check's time a probe's token still makes mail a probe, so a late probe is noted on the failed check (SPEC §13). */
export const PROBE_LATE_GRACE_MS = HEADER_TOKEN_LATE_GRACE_MS;

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

function asResult(value: string): AuthResult {
	return (authResultValues as readonly string[]).includes(value) ? (value as AuthResult) : 'temperror';
}
