/** All SQL for the email log (SPEC §5.6, §7); rows become `LoggedMessage` values here. */
import { listFilter } from './statements';

export interface LoggedMessage {
	id: string;
	mailboxId: string | null;
	messageId: string | null;
	envelope: { from: string; to: string };
	from: { address: string | null; name: string | null };
	subject: string | null;
	receivedAt: string;
	size: number;
	verdict: 'accepted' | 'quarantined' | 'rejected';
	reason: string | null;
	auth: { spf: string; dkim: string; dmarc: string; arc: string };
	authDetails: unknown;
	forwarding: 'none' | 'native' | 'manual';
	forwardingEvidence: string[];
	encoding: { charsets: string[]; garbled: boolean; blank: boolean; findings: string[] };
	headers: string;
	text: string | null;
	/** The text is a rendition of the HTML (the message had no text part; SPEC §11). */
	textFromHtml: boolean;
	html: string | null;
	/** Text, HTML or headers were cut to fit D1; the archived original has them whole. */
	truncated: boolean;
	attachments: Array<{ filename: string | null; contentType: string; size: number }>;
	/** SPEC §7, §16: a customer's message, or internal mail: an SMTP test, a mail flow probe (SPEC §13), a bounce (SPEC §10). */
	kind: 'message' | 'test' | 'probe' | 'bounce';
}

/** The list item of SPEC §7: the log row without the heavy and evidence-only fields. */
export function toLogItem(message: LoggedMessage) {
	const { headers: _h, text: _t, html: _m, attachments: _a, authDetails: _d, forwardingEvidence: _f, ...item } = message;
	return { ...item, encoding: { charsets: message.encoding.charsets, garbled: message.encoding.garbled, blank: message.encoding.blank } };
}

interface MessageRow {
	id: string;
	mailbox_id: string | null;
	message_id: string | null;
	envelope_from: string;
	envelope_to: string;
	from_address: string | null;
	from_name: string | null;
	subject: string | null;
	received_at: string;
	size: number;
	verdict: LoggedMessage['verdict'];
	reason: string | null;
	spf: string;
	dkim: string;
	dmarc: string;
	arc: string;
	auth_details: string;
	forwarding: LoggedMessage['forwarding'];
	forwarding_evidence: string;
	charsets: string;
	garbled: number;
	blank: number;
	encoding_findings: string;
	headers: string;
	text: string | null;
	html: string | null;
	attachments: string;
	truncated: number;
	kind: LoggedMessage['kind'];
	text_from_html: number;
}

const COLUMNS =
	'id, mailbox_id, message_id, envelope_from, envelope_to, from_address, from_name, subject, received_at, size, verdict, ' +
	'reason, spf, dkim, dmarc, arc, auth_details, forwarding, forwarding_evidence, charsets, garbled, blank, encoding_findings, ' +
	'truncated, kind, text_from_html, headers, text, html, attachments';
/** The list leaves out the heavy columns. */
const LIST_COLUMNS = COLUMNS.replace(', headers, text, html, attachments', '');

const toMessage = (row: MessageRow): LoggedMessage => ({
	id: row.id,
	mailboxId: row.mailbox_id,
	messageId: row.message_id,
	envelope: { from: row.envelope_from, to: row.envelope_to },
	from: { address: row.from_address, name: row.from_name },
	subject: row.subject,
	receivedAt: row.received_at,
	size: row.size,
	verdict: row.verdict,
	reason: row.reason,
	auth: { spf: row.spf, dkim: row.dkim, dmarc: row.dmarc, arc: row.arc },
	authDetails: JSON.parse(row.auth_details),
	forwarding: row.forwarding,
	forwardingEvidence: JSON.parse(row.forwarding_evidence),
	encoding: {
		charsets: JSON.parse(row.charsets),
		garbled: row.garbled === 1,
		blank: row.blank === 1,
		findings: JSON.parse(row.encoding_findings)
	},
	headers: row.headers ?? '',
	text: row.text ?? null,
	html: row.html ?? null,
	truncated: row.truncated === 1,
	attachments: row.attachments ? JSON.parse(row.attachments) : [],
	kind: row.kind ?? 'message',
	textFromHtml: row.text_from_html === 1
});

/**
 * The log row's INSERT (OR IGNORE: a row whose Message-ID is already logged for this mailbox
 * changes nothing), for a batch with what it announces (its webhook events).
 */
export function insertMessageStatement(db: D1Database, m: LoggedMessage): D1PreparedStatement {
	return db
		.prepare(
			`INSERT OR IGNORE INTO messages (${COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30)`
		)
		.bind(
			m.id,
			m.mailboxId,
			m.messageId,
			m.envelope.from,
			m.envelope.to,
			m.from.address,
			m.from.name,
			m.subject,
			m.receivedAt,
			m.size,
			m.verdict,
			m.reason,
			m.auth.spf,
			m.auth.dkim,
			m.auth.dmarc,
			m.auth.arc,
			JSON.stringify(m.authDetails),
			m.forwarding,
			JSON.stringify(m.forwardingEvidence),
			JSON.stringify(m.encoding.charsets),
			m.encoding.garbled ? 1 : 0,
			m.encoding.blank ? 1 : 0,
			JSON.stringify(m.encoding.findings),
			m.truncated ? 1 : 0,
			m.kind,
			m.textFromHtml ? 1 : 0,
			m.headers,
			m.text,
			m.html,
			JSON.stringify(m.attachments)
		);
}

export interface MessageFilters {
	/** A mailbox id, or `null` for deliveries to addresses that are not service addresses. */
	mailboxId?: string | null;
	/** Only these mailboxes (an API key's integration, SPEC §11). */
	mailboxIds?: string[];
	messageId?: string;
	/** An address (the header From or the envelope sender), or a domain (`example.com`). */
	from?: string;
	verdict?: LoggedMessage['verdict'];
	/** SPEC §16: one kind of mail (customer mail or internal). */
	kind?: LoggedMessage['kind'];
	since?: string;
	until?: string;
	/** Keyset cursor: the (receivedAt, id) of the last item of the previous page. */
	after?: { receivedAt: string; id: string };
	limit: number;
}

/**
 * Only the filters given become conditions, so SQLite can pick the index that serves both the
 * filter and the page order (migration 0005); `?1 IS NULL OR …` would defeat every index.
 */
export async function listMessages(db: D1Database, f: MessageFilters): Promise<LoggedMessage[]> {
	const { sql, values } = listQuery(f);
	const { results } = await db.prepare(sql).bind(...values).all<MessageRow>();
	return results.map(toMessage);
}

/** The list's SQL for these filters (exported so a test can check SQLite's query plan for each shape). */
export function listQuery(f: MessageFilters): { sql: string; values: unknown[] } {
	const { where, newestFirst } = listFilter();
	// A Message-ID or a sender picks out few rows: then the mailbox and verdict conditions are
	// written `+column` so that SQLite, which has no statistics on a fresh D1, does not walk
	// every quarantined row of the log to find one sender's.
	const narrow = f.messageId !== undefined || f.from !== undefined ? '+' : '';
	if (f.mailboxId === null) where(`${narrow}mailbox_id IS NULL`);
	else if (f.mailboxId !== undefined) where(`${narrow}mailbox_id = ?`, f.mailboxId);
	if (f.mailboxIds !== undefined) where(`${narrow}mailbox_id IN (SELECT value FROM json_each(?))`, JSON.stringify(f.mailboxIds));
	if (f.messageId !== undefined) where('message_id = ?', f.messageId);
	if (f.from !== undefined) {
		const domain = senderDomain(f.from);
		if (domain) where('sender_domain = ?', domain);
		else where('(from_address = ? COLLATE NOCASE OR envelope_from = ? COLLATE NOCASE)', f.from, f.from);
	}
	if (f.verdict !== undefined) where(`${narrow}verdict = ?`, f.verdict);
	if (f.kind !== undefined) where(`${narrow}kind = ?`, f.kind);
	if (f.since !== undefined) where('received_at >= ?', f.since);
	if (f.until !== undefined) where('received_at < ?', f.until);
	if (f.after) where('(received_at, id) < (?, ?)', f.after.receivedAt, f.after.id);
	return newestFirst(`SELECT ${LIST_COLUMNS} FROM messages`, 'received_at', f.limit);
}

/** `example.com` or `@example.com` is a domain filter; an address with a local part is not. */
export function senderDomain(from: string): string | null {
	const at = from.indexOf('@');
	if (at > 0) return null;
	return from.slice(at + 1).toLowerCase() || null;
}

type VerdictCounts = Record<LoggedMessage['verdict'], number>;

export interface MailboxHealth {
	mailboxId: string | null;
	last24h: VerdictCounts;
	last30d: VerdictCounts;
	topRejection: { reason: string; count: number } | null;
	lastReceivedAt: string | null;
}

/**
 * Per mailbox: verdict counts since `day` and since `month`, the most common rejection reason
 * since `month`, and the last delivery. Two queries, read from indexes (migration 0005). Only
 * customer mail counts (SPEC §16): SMTP tests, probes and bounces are Mailgate's own traffic,
 * and an admin testing ten times must not see ten "accepted" in health.
 */
export async function mailboxHealth(db: D1Database, since: { day: string; month: string }, mailboxId?: string | null): Promise<MailboxHealth[]> {
	const mine = mailboxScope(mailboxId, 3);
	const [counts, reasons] = await db.batch<Record<string, unknown>>([
		db
			.prepare(
				'SELECT mailbox_id, verdict, COUNT(*) AS month, SUM(received_at >= ?2) AS day, MAX(received_at) AS last ' +
					`FROM messages WHERE kind = 'message' AND received_at >= ?1 ${mine.sql} GROUP BY mailbox_id, verdict`
			)
			.bind(since.month, since.day, ...mine.values),
		db
			.prepare(
				"SELECT mailbox_id, reason, COUNT(*) AS count FROM messages WHERE verdict = 'rejected' AND kind = 'message' AND received_at >= ?1 " +
					`${mailboxScope(mailboxId, 2).sql} GROUP BY mailbox_id, reason ORDER BY count DESC, reason`
			)
			.bind(since.month, ...mine.values)
	]);
	const byMailbox = new Map<string | null, MailboxHealth>();
	const zero = (): VerdictCounts => ({ accepted: 0, quarantined: 0, rejected: 0 });
	for (const row of counts!.results as Array<{ mailbox_id: string | null; verdict: LoggedMessage['verdict']; month: number; day: number; last: string }>) {
		let health = byMailbox.get(row.mailbox_id);
		if (!health) {
			health = { mailboxId: row.mailbox_id, last24h: zero(), last30d: zero(), topRejection: null, lastReceivedAt: null };
			byMailbox.set(row.mailbox_id, health);
		}
		health.last30d[row.verdict] = row.month;
		health.last24h[row.verdict] = row.day ?? 0;
		if (!health.lastReceivedAt || row.last > health.lastReceivedAt) health.lastReceivedAt = row.last;
	}
	for (const row of reasons!.results as Array<{ mailbox_id: string | null; reason: string | null; count: number }>) {
		const health = byMailbox.get(row.mailbox_id);
		if (health && !health.topRejection) health.topRejection = { reason: row.reason ?? 'No reason recorded', count: row.count };
	}
	return [...byMailbox.values()];
}

export interface GarbledSender {
	sender: string;
	count: number;
	lastReceivedAt: string;
	charsets: string[];
}

/** Who sent garbled mail since `since` (SPEC §9: check whether it comes from one sender), most first. */
export async function garbledSenders(db: D1Database, since: string, mailboxId?: string | null, limit = 20): Promise<GarbledSender[]> {
	const mine = mailboxScope(mailboxId, 3);
	const { results } = await db
		.prepare(
			'SELECT lower(coalesce(from_address, envelope_from)) AS sender, COUNT(*) AS count, MAX(received_at) AS last, ' +
				`json_group_array(DISTINCT charsets) AS charsets FROM messages WHERE garbled = 1 AND received_at >= ?1 ${mine.sql} ` +
				'GROUP BY sender ORDER BY count DESC, last DESC LIMIT ?2'
		)
		.bind(since, limit, ...mine.values)
		.all<{ sender: string; count: number; last: string; charsets: string }>();
	return results.map((row) => ({
		sender: row.sender,
		count: row.count,
		lastReceivedAt: row.last,
		charsets: [...new Set((JSON.parse(row.charsets) as string[]).flatMap((list) => JSON.parse(list) as string[]))].sort()
	}));
}

/** The condition for "this mailbox" (`null`: refused unknown recipients; absent: all) with its parameter at `?position`. */
function mailboxScope(mailboxId: string | null | undefined, position: number): { sql: string; values: string[] } {
	if (mailboxId === undefined) return { sql: '', values: [] };
	if (mailboxId === null) return { sql: 'AND mailbox_id IS NULL', values: [] };
	return { sql: `AND mailbox_id = ?${position}`, values: [mailboxId] };
}

/** The logged message with this Message-ID, preferring one delivered to `mailboxId`. */
export async function findMessageByMessageId(db: D1Database, messageId: string, mailboxId: string): Promise<LoggedMessage | null> {
	const row = await db
		.prepare(`SELECT ${COLUMNS} FROM messages WHERE message_id = ?1 ORDER BY mailbox_id = ?2 DESC, received_at DESC LIMIT 1`)
		.bind(messageId, mailboxId)
		.first<MessageRow>();
	return row ? toMessage(row) : null;
}

export async function findMessage(db: D1Database, id: string): Promise<LoggedMessage | null> {
	const row = await db.prepare(`SELECT ${COLUMNS} FROM messages WHERE id = ?1`).bind(id).first<MessageRow>();
	return row ? toMessage(row) : null;
}

/** Ids of up to `batch` rows received before `before`. */
export async function messageIdsBefore(db: D1Database, before: string, batch: number): Promise<string[]> {
	const { results } = await db
		.prepare('SELECT id FROM messages WHERE received_at < ?1 ORDER BY received_at LIMIT ?2')
		.bind(before, batch)
		.all<{ id: string }>();
	return results.map((row) => row.id);
}

export async function deleteMessages(db: D1Database, ids: readonly string[]): Promise<number> {
	if (ids.length === 0) return 0;
	const result = await db
		.prepare(`DELETE FROM messages WHERE id IN (SELECT value FROM json_each(?1))`)
		.bind(JSON.stringify(ids))
		.run();
	return result.meta.changes;
}

/**
 * SPEC §16: the reply of `mailboxId` a logged bounce reported on (worker/outbound/apply-bounce.ts
 * records the bounce's log id on the reply: as its bounce, a delay notice or an unverified
 * report), or null when it named none of ours. Read for one message page, within one mailbox.
 */
export async function findReplyOfBounce(db: D1Database, logId: string, mailboxId: string): Promise<{ outboundId: string; subject: string } | null> {
	const row = await db
		.prepare(
			'SELECT id, subject FROM outbound WHERE mailbox_id = ?2 AND (' +
				"json_extract(bounce, '$.logId') = ?1 " +
				"OR EXISTS (SELECT 1 FROM json_each(outbound.warnings) WHERE json_extract(value, '$.logId') = ?1) " +
				"OR EXISTS (SELECT 1 FROM json_each(outbound.unverified_reports) WHERE json_extract(value, '$.logId') = ?1)) " +
				'ORDER BY created_at DESC LIMIT 1'
		)
		.bind(logId, mailboxId)
		.first<{ id: string; subject: string }>();
	return row ? { outboundId: row.id, subject: row.subject } : null;
}
