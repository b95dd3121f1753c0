/** All SQL for the email log (SPEC §5.6, §7); rows become `LoggedMessage` values here. */

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
	html: string | null;
	/** Text, HTML or headers were cut to fit D1; the archived original has them whole. */
	truncated: boolean;
	attachments: Array<{ filename: string | null; contentType: string; size: number }>;
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
}

const COLUMNS =
	'id, mailbox_id, message_id, envelope_from, envelope_to, from_address, from_name, subject, received_at, size, verdict, ' +
	'reason, spf, dkim, dmarc, arc, auth_details, forwarding, forwarding_evidence, charsets, garbled, blank, encoding_findings, ' +
	'truncated, headers, text, html, attachments';
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
	attachments: row.attachments ? JSON.parse(row.attachments) : []
});

/** Stores a log row; false when the same Message-ID was already logged for this mailbox. */
export async function insertMessage(db: D1Database, m: LoggedMessage): Promise<boolean> {
	const result = await db
		.prepare(
			`INSERT OR IGNORE INTO messages (${COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28)`
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
			m.headers,
			m.text,
			m.html,
			JSON.stringify(m.attachments)
		)
		.run();
	return result.meta.changes === 1;
}

export interface MessageFilters {
	mailboxId?: string;
	messageId?: string;
	from?: string;
	verdict?: LoggedMessage['verdict'];
	since?: string;
	until?: string;
	/** Keyset cursor: the (receivedAt, id) of the last item of the previous page. */
	after?: { receivedAt: string; id: string };
	limit: number;
}

export async function listMessages(db: D1Database, f: MessageFilters): Promise<LoggedMessage[]> {
	const { results } = await db
		.prepare(
			`SELECT ${LIST_COLUMNS} FROM messages WHERE ` +
				'(?1 IS NULL OR mailbox_id = ?1) AND (?2 IS NULL OR message_id = ?2) AND ' +
				"(?3 IS NULL OR from_address = ?3 COLLATE NOCASE OR envelope_from = ?3 COLLATE NOCASE) AND (?4 IS NULL OR verdict = ?4) AND " +
				'(?5 IS NULL OR received_at >= ?5) AND (?6 IS NULL OR received_at < ?6) AND ' +
				'(?7 IS NULL OR received_at < ?7 OR (received_at = ?7 AND id < ?8)) ' +
				'ORDER BY received_at DESC, id DESC LIMIT ?9'
		)
		.bind(
			f.mailboxId ?? null,
			f.messageId ?? null,
			f.from ?? null,
			f.verdict ?? null,
			f.since ?? null,
			f.until ?? null,
			f.after?.receivedAt ?? null,
			f.after?.id ?? '',
			f.limit
		)
		.all<MessageRow>();
	return results.map(toMessage);
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
