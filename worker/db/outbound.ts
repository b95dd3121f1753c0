/**
 * All SQL for outbound mail (SPEC §10); rows become `OutboundItem` values here. Status moves
 * are conditional updates, so two consumers (a redelivered queue message, the sweep) can never
 * both own one message: whoever's UPDATE changed the row owns it.
 */
import { requeueableStatuses } from '../../src/lib/schema/outbound';
import type {
	OutboundAttempt,
	OutboundBounce,
	OutboundDetail,
	OutboundItem,
	OutboundStatus,
	RefusedRecipient,
	UnverifiedBounce
} from '../../src/lib/schema/outbound';
import { underLimitsCondition, type Take } from './rate-limits';
import { listFilter } from './statements';

export interface StoredOutbound extends Omit<OutboundDetail, 'html'> {
	html: string | null;
	replyToLogId: string | null;
	references: string[];
	truncated: boolean;
	claimedAt: string | null;
	dataStartedAt: string | null;
}

interface OutboundRow {
	id: string;
	mailbox_id: string | null;
	message_id: string;
	status: OutboundStatus;
	from_name: string;
	from_address: string;
	to_addresses: string;
	cc_addresses: string;
	bcc_addresses: string;
	subject: string;
	in_reply_to: string | null;
	reply_to_log_id: string | null;
	text: string;
	html: string | null;
	headers: string;
	attachments: string;
	truncated: number;
	size: number;
	metadata: string;
	created_at: string;
	sent_at: string | null;
	next_attempt_at: string | null;
	attempts: string;
	refused: string;
	bounce: string | null;
	warnings: string;
	unverified_reports: string;
	claimed_at: string | null;
	data_started_at: string | null;
}

const COLUMNS =
	'id, mailbox_id, message_id, status, from_name, from_address, to_addresses, cc_addresses, bcc_addresses, subject, ' +
	'in_reply_to, reply_to_log_id, text, html, headers, attachments, truncated, size, metadata, created_at, sent_at, ' +
	'next_attempt_at, attempts, refused, bounce, warnings, unverified_reports, claimed_at, data_started_at';
/** The list leaves out the bodies. */
const LIST_COLUMNS = COLUMNS.replace('text, html, headers, ', "'' AS text, NULL AS html, '' AS headers, ");

const toOutbound = (row: OutboundRow): StoredOutbound => ({
	id: row.id,
	mailboxId: row.mailbox_id,
	messageId: row.message_id,
	status: row.status,
	from: { name: row.from_name, address: row.from_address },
	to: JSON.parse(row.to_addresses),
	cc: JSON.parse(row.cc_addresses),
	bcc: JSON.parse(row.bcc_addresses),
	subject: row.subject,
	inReplyTo: row.in_reply_to,
	replyToLogId: row.reply_to_log_id,
	references: [],
	createdAt: row.created_at,
	sentAt: row.sent_at,
	nextAttemptAt: row.next_attempt_at,
	attempts: JSON.parse(row.attempts),
	refused: JSON.parse(row.refused),
	bounce: row.bounce ? JSON.parse(row.bounce) : null,
	warnings: JSON.parse(row.warnings),
	unverifiedReports: JSON.parse(row.unverified_reports),
	metadata: JSON.parse(row.metadata),
	size: row.size,
	text: row.text ?? '',
	html: row.html ?? null,
	headers: row.headers ?? '',
	attachments: row.attachments ? JSON.parse(row.attachments) : [],
	truncated: row.truncated === 1,
	claimedAt: row.claimed_at,
	dataStartedAt: row.data_started_at
});

/** The API's view: the stored record without the consumer's bookkeeping. */
export function toOutboundItem(stored: StoredOutbound): OutboundItem {
	const { id, mailboxId, messageId, status, from, to, cc, bcc, subject, inReplyTo, createdAt, sentAt, nextAttemptAt, attempts, refused, bounce, warnings, unverifiedReports, metadata, size } =
		stored;
	return { id, mailboxId, messageId, status, from, to, cc, bcc, subject, inReplyTo, createdAt, sentAt, nextAttemptAt, attempts, refused, bounce, warnings, unverifiedReports, metadata, size };
}

export interface NewOutbound {
	id: string;
	mailboxId: string;
	messageId: string;
	from: { name: string; address: string };
	to: string[];
	cc: string[];
	bcc: string[];
	subject: string;
	inReplyTo: string | null;
	replyToLogId: string | null;
	text: string;
	html: string | null;
	headers: string;
	attachments: Array<{ filename: string; contentType: string; size: number }>;
	truncated: boolean;
	size: number;
	metadata: Record<string, string>;
	createdAt: string;
}

/** What a reply needs of its mailbox (SPEC §10 "The message": the From and the Message-ID's domain). */
export interface ReplySender {
	id: string;
	name: string;
	address: string;
}

/** The mailbox a reply goes out as; null when there is none. */
export async function findReplySender(db: D1Database, mailboxId: string): Promise<ReplySender | null> {
	return db.prepare('SELECT id, name, address FROM mailboxes WHERE id = ?1').bind(mailboxId).first<ReplySender>();
}

/** The parameters of the insert below that come before its conditions. */
const INSERT_PARAMETERS = 19;

/**
 * Stores a new outbound message as `queued`, in one statement, only when no record has its id,
 * its mailbox still has the name and address it was composed with (`sender`), and the takes
 * (db/rate-limits.ts) would count it: run first in the takes' batch, the row and its rate limits
 * are one write (issue 22). Its result changed one row when it was stored.
 */
export function insertOutboundStatement(
	db: D1Database,
	m: NewOutbound,
	sender: ReplySender,
	takes: readonly Take[],
	/** The row's copy of the composed message until the consumer has put it in R2 (outbound/composed.ts), else null. */
	composed: RowComposed | null
): D1PreparedStatement {
	const limits = underLimitsCondition(takes, INSERT_PARAMETERS + 6);
	return db
		.prepare(
			'INSERT OR IGNORE INTO outbound (id, mailbox_id, message_id, status, from_name, from_address, to_addresses, cc_addresses, ' +
				'bcc_addresses, subject, in_reply_to, reply_to_log_id, text, html, headers, attachments, truncated, size, metadata, created_at, composed, composed_text_at) ' +
				"SELECT ?1, ?2, ?3, 'queued', ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?23, ?24 " +
				`WHERE EXISTS (SELECT 1 FROM mailboxes WHERE id = ?20 AND name = ?21 AND address = ?22) AND ${limits.sql}`
		)
		.bind(
			m.id,
			m.mailboxId,
			m.messageId,
			m.from.name,
			m.from.address,
			JSON.stringify(m.to),
			JSON.stringify(m.cc),
			JSON.stringify(m.bcc),
			m.subject,
			m.inReplyTo,
			m.replyToLogId,
			m.text,
			m.html,
			m.headers,
			JSON.stringify(m.attachments),
			m.truncated ? 1 : 0,
			m.size,
			JSON.stringify(m.metadata),
			m.createdAt,
			sender.id,
			sender.name,
			sender.address,
			composed?.composed ?? null,
			composed?.textAt ?? null,
			...limits.values
		);
}

/**
 * The record `insertOutboundStatement` just stored, as `findOutbound` would read it back (a new row is
 * `queued` and its other columns have their migration defaults), so the request that wrote it
 * answers without a second query.
 */
export function insertedOutbound(m: NewOutbound): StoredOutbound {
	return {
		...m,
		status: 'queued',
		references: [],
		sentAt: null,
		nextAttemptAt: null,
		attempts: [],
		refused: [],
		bounce: null,
		warnings: [],
		unverifiedReports: [],
		claimedAt: null,
		dataStartedAt: null
	};
}

/**
 * A row's copy of its composed message (0018, until the consumer has put it in R2): `composed`,
 * which leaves out the text part's body when `textAt` is set (0019; it goes back at that offset,
 * encoded from `text`, outbound/composed.ts).
 */
export interface RowComposed {
	composed: string;
	textAt: number | null;
	text: string;
}

/** The columns a row's copy is read from, in a SELECT or a RETURNING (its `text` the caller has read already). */
export const ROW_COMPOSED_COLUMNS = 'composed, composed_text_at';

/** The row's copy as read with ROW_COMPOSED_COLUMNS, with the row's `text`; null when it keeps none (it is in R2). */
export function rowComposedOf(row: { composed: string | null; composed_text_at: number | null } | null, text: string): RowComposed | null {
	return row?.composed == null ? null : { composed: row.composed, textAt: row.composed_text_at, text };
}

/** The row's copy of its composed message; null when it is in R2 (or there is no such row). */
export async function findComposedInRow(db: D1Database, outbound: { id: string; text: string }): Promise<RowComposed | null> {
	return rowComposedOf(await db.prepare(`SELECT ${ROW_COMPOSED_COLUMNS} FROM outbound WHERE id = ?1`).bind(outbound.id).first(), outbound.text);
}

/** The row no longer keeps its composed message: it is in R2 now. */
export async function dropComposedFromRow(db: D1Database, id: string): Promise<void> {
	await db.prepare('UPDATE outbound SET composed = NULL, composed_text_at = NULL WHERE id = ?1 AND composed IS NOT NULL').bind(id).run();
}

export async function findOutbound(db: D1Database, id: string): Promise<StoredOutbound | null> {
	const row = await db.prepare(`SELECT ${COLUMNS} FROM outbound WHERE id = ?1`).bind(id).first<OutboundRow>();
	return row ? toOutbound(row) : null;
}

export interface OutboundListFilters {
	mailboxId?: string;
	/** Restricts to these mailboxes (an API key's integration); an empty list matches nothing. */
	mailboxIds?: string[];
	status?: OutboundStatus;
	/** The replies to one logged message (`reply_to_log_id`). */
	replyToLogId?: string;
	after?: { createdAt: string; id: string };
	limit: number;
}

/** Newest first; only the filters given become conditions, so an index serves filter and order. */
export async function listOutbound(db: D1Database, f: OutboundListFilters): Promise<StoredOutbound[]> {
	const { sql, values } = listOutboundQuery(f);
	const { results } = await db
		.prepare(sql)
		.bind(...values)
		.all<OutboundRow>();
	return results.map(toOutbound);
}

/** The list's SQL and its values (apart, so a test can ask SQLite for its plan). */
export function listOutboundQuery(f: OutboundListFilters): { sql: string; values: unknown[] } {
	const { where, newestFirst } = listFilter();
	if (f.mailboxId !== undefined) where('mailbox_id = ?', f.mailboxId);
	if (f.mailboxIds !== undefined) where('mailbox_id IN (SELECT value FROM json_each(?))', JSON.stringify(f.mailboxIds));
	if (f.status !== undefined) where('status = ?', f.status);
	if (f.replyToLogId !== undefined) where('reply_to_log_id = ?', f.replyToLogId);
	if (f.after) where('(created_at, id) < (?, ?)', f.after.createdAt, f.after.id);
	return newestFirst(`SELECT ${LIST_COLUMNS} FROM outbound`, 'created_at', f.limit);
}

const CLAIM_EARLY_MS = 30_000;

/**
 * Takes a message for sending: only a `queued` or `deferred` one, so a redelivered queue
 * message finds a `sent` (or `sending`) one and leaves it alone. Returns it when this caller
 * owns it now.
 */
export async function claimOutbound(db: D1Database, id: string, at: Date): Promise<StoredOutbound | null> {
	// A deferred message is not taken before its time (a duplicate queue message may come early);
	// a little early is fine, the queue's delays are not to the second. On a queued one,
	// next_attempt_at only marks when the sweep may look at it again.
	const due = new Date(at.getTime() + CLAIM_EARLY_MS).toISOString();
	const row = await db
		.prepare(
			"UPDATE outbound SET status = 'sending', claimed_at = ?2, data_started_at = NULL, next_attempt_at = NULL " +
				`WHERE id = ?1 AND (status = 'queued' OR (status = 'deferred' AND (next_attempt_at IS NULL OR next_attempt_at <= ?3))) RETURNING ${COLUMNS}`
		)
		.bind(id, at.toISOString(), due)
		.first<OutboundRow>();
	return row ? toOutbound(row) : null;
}

/** Recorded right before the message data goes out (SPEC §10: a cut-off send is known as such). */
export async function markDataStarted(db: D1Database, id: string, at: string): Promise<void> {
	await db.prepare("UPDATE outbound SET data_started_at = ?2 WHERE id = ?1 AND status = 'sending'").bind(id, at).run();
}

export interface AttemptOutcome {
	status: Extract<OutboundStatus, 'sent' | 'deferred' | 'failed' | 'queued'>;
	attempt: OutboundAttempt | null;
	sentAt?: string | null;
	nextAttemptAt?: string | null;
	refused?: RefusedRecipient[];
}

/** Most attempts kept per message: the retry table's seven plus room for the admin's retries. */
export const MAX_KEPT_ATTEMPTS = 30;

/** Ends an attempt this consumer owns (status `sending`): the new status and the attempt record. */
export function finishAttemptStatement(db: D1Database, outbound: { id: string; claimedAt: string | null }, outcome: AttemptOutcome): D1PreparedStatement {
	return db
		.prepare(
			'UPDATE outbound SET status = ?2, sent_at = coalesce(?3, sent_at), next_attempt_at = ?4, ' +
				"attempts = CASE WHEN ?5 IS NULL THEN attempts ELSE json_insert(CASE WHEN json_array_length(attempts) >= ?7 THEN json_remove(attempts, '$[0]') ELSE attempts END, '$[#]', json(?5)) END, " +
				'refused = coalesce(?6, refused), claimed_at = NULL, data_started_at = NULL ' +
				// Only under the claim the attempt was made with: one whose lease ran out and that another
				// invocation claimed again is that one's to record (a pause putting it back would undo a send).
				"WHERE id = ?1 AND status = 'sending' AND claimed_at IS ?8"
		)
		.bind(
			outbound.id,
			outcome.status,
			outcome.sentAt ?? null,
			outcome.nextAttemptAt ?? null,
			outcome.attempt ? JSON.stringify(outcome.attempt) : null,
			outcome.refused ? JSON.stringify(outcome.refused) : null,
			MAX_KEPT_ATTEMPTS,
			outbound.claimedAt
		);
}

/**
 * `POST /api/outbound/:id/retry`: a failed, bounced or deferred message goes back to the queue.
 * Conditional, so a deferred one its delayed queue message took meanwhile (`sending`) is left alone.
 */
export async function requeueOutbound(db: D1Database, id: string): Promise<StoredOutbound | null> {
	const row = await db
		.prepare(
			"UPDATE outbound SET status = 'queued', next_attempt_at = NULL, claimed_at = NULL, data_started_at = NULL " +
				`WHERE id = ?1 AND status IN (SELECT value FROM json_each(?2)) RETURNING ${COLUMNS}`
		)
		.bind(id, JSON.stringify(requeueableStatuses))
		.first<OutboundRow>();
	return row ? toOutbound(row) : null;
}

/** The outbound messages a bounce may concern, by the returned Message-IDs. */
export async function findOutboundByMessageIds(db: D1Database, messageIds: string[]): Promise<StoredOutbound[]> {
	if (messageIds.length === 0) return [];
	const { results } = await db
		.prepare(`SELECT ${LIST_COLUMNS} FROM outbound WHERE message_id IN (SELECT value FROM json_each(?1))`)
		.bind(JSON.stringify(messageIds))
		.all<OutboundRow>();
	return results.map(toOutbound);
}

/**
 * SPEC §10: a bounce for a sent message makes it `bounced` (the caller merges a later bounce's
 * recipients into the earlier ones). A message still `sending`, `queued` or `deferred` keeps
 * its status (its own attempt decides), but the bounce is recorded.
 */
export function recordBounceStatement(db: D1Database, id: string, bounce: OutboundBounce): D1PreparedStatement {
	return db
		.prepare("UPDATE outbound SET status = CASE WHEN status IN ('sent', 'failed', 'bounced') THEN 'bounced' ELSE status END, bounce = ?2 WHERE id = ?1")
		.bind(id, JSON.stringify(bounce));
}

/** A delay notice: recorded as a warning, the status unchanged (SPEC §10). */
export function addWarningStatement(db: D1Database, id: string, warning: OutboundItem['warnings'][number]): D1PreparedStatement {
	return db.prepare("UPDATE outbound SET warnings = json_insert(warnings, '$[#]', json(?2)) WHERE id = ?1").bind(id, JSON.stringify(warning));
}

/**
 * Unverified reports kept per reply, the oldest dropped first: anyone can send reports naming a
 * reply's Message-ID, so the row must not grow with them; twenty show the admin what is going on.
 */
const MAX_UNVERIFIED_REPORTS = 20;

/**
 * A bounce report that changed nothing (SPEC §10, issue 18), kept for the admin. Once per report:
 * a report redelivered by Email Routing (same log row) is not added again.
 */
export function addUnverifiedReportStatement(db: D1Database, id: string, report: UnverifiedBounce): D1PreparedStatement {
	return db
		.prepare(
			'UPDATE outbound SET unverified_reports = json_insert(CASE WHEN json_array_length(unverified_reports) >= ?3 ' +
				"THEN json_remove(unverified_reports, '$[0]') ELSE unverified_reports END, '$[#]', json(?2)) " +
				"WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM json_each(unverified_reports) WHERE json_extract(value, '$.logId') = ?4)"
		)
		.bind(id, JSON.stringify(report), MAX_UNVERIFIED_REPORTS, report.logId);
}

/** What the scheduled sweep must look at: messages whose queue message may be lost. */
export async function findStranded(
	db: D1Database,
	before: { queued: string; due: string; sending: string },
	limit: number
): Promise<Array<Pick<StoredOutbound, 'id' | 'status' | 'dataStartedAt'>>> {
	const { results } = await db
		.prepare(
			"SELECT id, status, data_started_at FROM outbound WHERE (status = 'queued' AND created_at < ?1 AND next_attempt_at IS NULL) " +
				"OR (status IN ('queued', 'deferred') AND next_attempt_at < ?2) OR (status = 'sending' AND claimed_at < ?3) LIMIT ?4"
		)
		.bind(before.queued, before.due, before.sending, limit)
		.all<{ id: string; status: OutboundStatus; data_started_at: string | null }>();
	return results.map((row) => ({ id: row.id, status: row.status, dataStartedAt: row.data_started_at }));
}

/** Marks a queued or deferred message as handed to the queue again (so the sweep does not repeat it at once). */
export async function touchDue(db: D1Database, id: string, nextAttemptAt: string): Promise<void> {
	await db.prepare("UPDATE outbound SET next_attempt_at = ?2 WHERE id = ?1 AND status IN ('queued', 'deferred')").bind(id, nextAttemptAt).run();
}

type OutboundCounts = { sent: number; failed: number; bounced: number; limitDeferred: number };
/**
 * SPEC §15: a reply one of whose attempts met a provider's limit. Attempts are stored as JSON and
 * only a limit answer's attempt has a `"limit":` key; the same text in the provider's words or a
 * transcript is inside a JSON string, where its quotes are escaped, so it cannot match.
 */
const MET_A_LIMIT = `instr(attempts, '"limit":') > 0`;
export interface OutboundHealth {
	mailboxId: string;
	last24h: OutboundCounts;
	last30d: OutboundCounts;
	lastSentAt: string | null;
}

/** Mailbox health's sent, failed and bounced counts (SPEC §10) and limit deferrals (§15), by the time each message was created. */
export async function outboundHealth(db: D1Database, since: { day: string; month: string }, mailboxId?: string): Promise<OutboundHealth[]> {
	const { results } = await db
		.prepare(
			'SELECT mailbox_id, status, COUNT(*) AS month, SUM(created_at >= ?2) AS day, MAX(sent_at) AS last, ' +
				`SUM(${MET_A_LIMIT}) AS limited_month, SUM(created_at >= ?2 AND ${MET_A_LIMIT}) AS limited_day FROM outbound ` +
				`WHERE created_at >= ?1 AND mailbox_id IS NOT NULL ${mailboxId === undefined ? '' : 'AND mailbox_id = ?3'} GROUP BY mailbox_id, status`
		)
		.bind(since.month, since.day, ...(mailboxId === undefined ? [] : [mailboxId]))
		.all<{ mailbox_id: string; status: OutboundStatus; month: number; day: number; last: string | null; limited_month: number; limited_day: number | null }>();
	const byMailbox = new Map<string, OutboundHealth>();
	const zero = (): OutboundCounts => ({ sent: 0, failed: 0, bounced: 0, limitDeferred: 0 });
	for (const row of results) {
		let health = byMailbox.get(row.mailbox_id);
		if (!health) {
			health = { mailboxId: row.mailbox_id, last24h: zero(), last30d: zero(), lastSentAt: null };
			byMailbox.set(row.mailbox_id, health);
		}
		if (row.status === 'sent' || row.status === 'failed' || row.status === 'bounced') {
			health.last30d[row.status] = row.month;
			health.last24h[row.status] = row.day ?? 0;
		}
		health.last30d.limitDeferred += row.limited_month ?? 0;
		health.last24h.limitDeferred += row.limited_day ?? 0;
		if (row.last && (!health.lastSentAt || row.last > health.lastSentAt)) health.lastSentAt = row.last;
	}
	return [...byMailbox.values()];
}

/** Ids of up to `batch` outbound messages created before `before` (retention). */
export async function outboundIdsBefore(db: D1Database, before: string, batch: number): Promise<string[]> {
	const { results } = await db
		.prepare('SELECT id FROM outbound WHERE created_at < ?1 ORDER BY created_at LIMIT ?2')
		.bind(before, batch)
		.all<{ id: string }>();
	return results.map((row) => row.id);
}

export async function deleteOutbound(db: D1Database, ids: readonly string[]): Promise<number> {
	if (ids.length === 0) return 0;
	const result = await db.prepare('DELETE FROM outbound WHERE id IN (SELECT value FROM json_each(?1))').bind(JSON.stringify(ids)).run();
	return result.meta.changes;
}
