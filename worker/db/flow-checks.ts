/**
 * All SQL for mail flow checks (SPEC §13). Three writers touch one check at about the same
 * time (the DNS lookups, the probe's send, email() when the probe arrives) and a fourth may
 * close it for taking too long, so the round trip is changed field by field (`json_set`) under
 * a guard on its current step, never rewritten from a stale copy: whichever comes first wins,
 * and a check becomes `done` in the same statement that completes its last part. (Not
 * `json_patch`: as a merge patch, RFC 7396, it would delete every field set to null.)
 */
import {
	dnsFindingsSchema,
	overallResult,
	roundTripSchema,
	type DnsFindings,
	type FlowCheck,
	type FlowCheckSummary,
	type RoundTrip
} from '../../src/lib/schema/flow-check';
import { changedOne } from './statements';

interface FlowCheckRow {
	id: string;
	mailbox_id: string;
	started_at: string;
	finished_at: string | null;
	status: FlowCheck['status'];
	dns: string | null;
	round_trip: string;
	expires_at: string;
}

const COLUMNS = 'id, mailbox_id, started_at, finished_at, status, dns, round_trip, expires_at';

function toCheck(row: FlowCheckRow): FlowCheck {
	const check = {
		id: row.id,
		mailboxId: row.mailbox_id,
		startedAt: row.started_at,
		finishedAt: row.finished_at,
		status: row.status,
		dns: row.dns === null ? null : dnsFindingsSchema.parse(JSON.parse(row.dns)),
		roundTrip: roundTripSchema.parse(JSON.parse(row.round_trip)),
		expiresAt: row.expires_at
	};
	return { ...check, result: overallResult(check) };
}

/**
 * Starts a check unless one of this mailbox is still running (within its time): true when
 * inserted. One statement, so two clicks at once cannot both start one.
 */
export async function insertFlowCheck(
	db: D1Database,
	check: { id: string; mailboxId: string; startedAt: string; expiresAt: string; roundTrip: RoundTrip; tokenHash: string }
): Promise<boolean> {
	return changedOne(
		db,
		`INSERT INTO flow_checks (id, mailbox_id, started_at, status, round_trip, probe_token_hash, expires_at) ` +
			`SELECT ?1, ?2, ?3, 'running', ?4, ?5, ?6 WHERE NOT EXISTS ` +
			`(SELECT 1 FROM flow_checks WHERE mailbox_id = ?2 AND status = 'running' AND expires_at > ?3)`,
		check.id, check.mailboxId, check.startedAt, JSON.stringify(check.roundTrip), check.tokenHash, check.expiresAt
	);
}

/** Checks started since `since`: in all, and of `mailboxId`, in one query. */
export async function countFlowChecksSince(db: D1Database, since: string, mailboxId: string): Promise<{ overall: number; mailbox: number }> {
	const row = await db
		.prepare('SELECT COUNT(*) AS overall, COUNT(CASE WHEN mailbox_id = ?2 THEN 1 END) AS mailbox FROM flow_checks WHERE started_at > ?1')
		.bind(since, mailboxId)
		.first<{ overall: number; mailbox: number }>();
	return { overall: row?.overall ?? 0, mailbox: row?.mailbox ?? 0 };
}

export async function findFlowCheck(db: D1Database, mailboxId: string, id: string): Promise<FlowCheck | null> {
	const row = await db.prepare(`SELECT ${COLUMNS} FROM flow_checks WHERE id = ?1 AND mailbox_id = ?2`).bind(id, mailboxId).first<FlowCheckRow>();
	return row ? toCheck(row) : null;
}

/** The check whose probe carries the token with this hash, if its time ran out after `expiresAfter` (an expired token finds nothing). */
export async function findFlowCheckByToken(db: D1Database, tokenHash: string, expiresAfter: string): Promise<FlowCheck | null> {
	const row = await db
		.prepare(`SELECT ${COLUMNS} FROM flow_checks WHERE probe_token_hash = ?1 AND expires_at > ?2`)
		.bind(tokenHash, expiresAfter)
		.first<FlowCheckRow>();
	return row ? toCheck(row) : null;
}

/** The latest check of each mailbox (of `mailboxId` only, when given), for the list and the mailbox. */
export async function latestFlowChecks(db: D1Database, mailboxId?: string): Promise<Map<string, FlowCheckSummary>> {
	const { results } = await db
		.prepare(
			`SELECT ${COLUMNS} FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY mailbox_id ORDER BY started_at DESC, id DESC) AS n ` +
				`FROM flow_checks WHERE (?1 IS NULL OR mailbox_id = ?1)) WHERE n = 1`
		)
		.bind(mailboxId ?? null)
		.all<FlowCheckRow>();
	return new Map(
		results.map((row) => {
			const { id, status, result, startedAt, finishedAt } = toCheck(row);
			return [row.mailbox_id, { id, status, result, startedAt, finishedAt }];
		})
	);
}

/** Marks the check done, at the time bound to `atParam`, when this statement completes its last part. */
const finish = (completedSql: string, atParam: string) =>
	`status = CASE WHEN ${completedSql} THEN 'done' ELSE status END, ` +
	`finished_at = CASE WHEN ${completedSql} THEN ${atParam} ELSE finished_at END`;

/** Stores the DNS findings (once). */
export async function recordDns(db: D1Database, id: string, dns: DnsFindings, at: string): Promise<void> {
	await db
		.prepare(
			`UPDATE flow_checks SET dns = ?2, ${finish("json_extract(round_trip, '$.result') <> 'running'", '?3')} ` +
				`WHERE id = ?1 AND dns IS NULL AND status = 'running'`
		)
		.bind(id, JSON.stringify(dns), at)
		.run();
}

/**
 * `json_set(round_trip, '$.key', json(?n), …)` for each field of `patch`, its values bound from
 * parameter `first` on. Keys are the schema's own field names, never input.
 */
function setFields(patch: Partial<RoundTrip>, first: number): { sql: string; values: string[] } {
	const entries = Object.entries(patch).filter(([, value]) => value !== undefined);
	if (entries.length === 0) return { sql: 'round_trip', values: [] };
	const pairs = entries.map(([key], index) => {
		if (!/^[a-zA-Z]+$/.test(key)) throw new TypeError(`not a round trip field: ${key}`);
		return `'$.${key}', json(?${first + index})`;
	});
	return { sql: `json_set(round_trip, ${pairs.join(', ')})`, values: entries.map(([, value]) => JSON.stringify(value)) };
}

/**
 * Sets `patch`'s fields on the round trip if its step is one of `fromSteps`; when the patch
 * ends the round trip and the DNS findings are in, the check is done. True when it was changed.
 */
export async function patchRoundTrip(
	db: D1Database,
	id: string,
	patch: Partial<RoundTrip>,
	options: { fromSteps: RoundTrip['step'][]; at: string }
): Promise<boolean> {
	const ends = patch.result !== undefined && patch.result !== 'running';
	const steps = options.fromSteps.map((_, index) => `?${index + 3}`);
	const set = setFields(patch, 3 + steps.length);
	return changedOne(
		db,
		`UPDATE flow_checks SET round_trip = ${set.sql}${ends ? `, ${finish('dns IS NOT NULL', '?2')}` : ''} ` +
			`WHERE id = ?1 AND json_extract(round_trip, '$.step') IN (${steps.join(', ')})`,
		id, options.at, ...options.fromSteps, ...set.values
	);
}

/** Running checks past their time (few: the read paths and the sweep close them as they go). */
export async function listExpiredChecks(db: D1Database, now: string): Promise<FlowCheck[]> {
	const { results } = await db
		.prepare(`SELECT ${COLUMNS} FROM flow_checks WHERE status = 'running' AND expires_at <= ?1`)
		.bind(now)
		.all<FlowCheckRow>();
	return results.map(toCheck);
}

/**
 * Closes a check that ran out of time, at its expiry: a round trip still under way gets the
 * patch for where it stopped (never sent, or sent and not back), missing DNS findings become
 * `unknown`. A part that finished meanwhile keeps its outcome.
 */
export async function closeExpiredCheck(
	db: D1Database,
	id: string,
	patches: { neverSent: Partial<RoundTrip>; noArrival: Partial<RoundTrip>; dns: DnsFindings }
): Promise<boolean> {
	const neverSent = setFields(patches.neverSent, 3);
	const noArrival = setFields(patches.noArrival, 3 + neverSent.values.length);
	return changedOne(
		db,
		`UPDATE flow_checks SET round_trip = CASE json_extract(round_trip, '$.step') ` +
			`WHEN 'sending' THEN ${neverSent.sql} WHEN 'waiting' THEN ${noArrival.sql} ELSE round_trip END, ` +
			`dns = COALESCE(dns, ?2), status = 'done', finished_at = expires_at WHERE id = ?1 AND status = 'running'`,
		id, JSON.stringify(patches.dns), ...neverSent.values, ...noArrival.values
	);
}
