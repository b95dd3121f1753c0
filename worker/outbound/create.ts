/**
 * Accepting a reply (SPEC §10 "Request" and "The message"): thread it from the log, compose it
 * once, keep it, and hand its id to the queue. One conditional insert decides, atomically: the
 * client's id (a retried request answers the first), the mailbox as composed, the rate limits.
 * A composed message up to INLINE_COMPOSED_BYTES is part of that insert (outbound/composed.ts);
 * a larger one goes to R2, after a client's id is stored, beside an id made here (issue 22). The
 * queue hears of the id only once both are stored.
 */
import type { OutboundRequest } from '../../src/lib/schema/outbound';
import { isLogId, MAX_OUTBOUND_MESSAGE_BYTES } from '../../src/lib/schema/outbound';
import { isMessageId, parseMessageId } from '../../src/lib/schema/message-id';
import { findMessage, findMessageByMessageId } from '../db/messages';
import { deleteOutbound, findOutbound, findOutboundByMessageIds, insertedOutbound, insertOutboundStatement, type NewOutbound, type ReplySender, type StoredOutbound } from '../db/outbound';
import type { Admission } from '../db/rate-limits';
import { cutToBytes, MAX_STORED_HEADER_BYTES, MAX_STORED_HTML_BYTES, MAX_STORED_TEXT_BYTES } from '../mail/byte-budgets';
import { sanitizeHtml } from '../mail/sanitize-html';
import { oneLine } from '../mail/header-field';
import { readThreadIds, replyReferences } from '../mail/thread-ids';
import { base64DecodedSize } from '../mail/base64';
import { composeMessage } from '../mail/compose';
import { enqueue } from '../jobs/enqueue';
import { composedKey } from '../archive/keys';
import { putMessage } from '../archive/originals';
import { INLINE_COMPOSED_BYTES, rowCopy } from './composed';
import type { Services } from '../services';

/** RFC 5322 §3.6.4 advises keeping References short; the oldest ids after the first are dropped past this. */
const MAX_REFERENCES = 50;

/** Why a reply is not accepted, in the domain's words (api/outbound.ts maps each to its HTTP answer). */
export type CreateRefusal =
	/** The client's id is taken by a reply of another mailbox. */
	| { reason: 'id_taken' }
	/** Fields that make no message (no subject to be found, too large once encoded). */
	| { reason: 'invalid'; fields: Record<string, string> };

export type CreateResult =
	| { ok: true; outbound: StoredOutbound; created: boolean }
	| ({ ok: false } & CreateRefusal)
	/** The mailbox's name or address changed (or it went away) since `mailbox` was read: nothing was stored; read it again. */
	| { ok: false; reason: 'sender_changed' };

export async function createOutbound(
	services: Pick<Services, 'db' | 'archive' | 'queues'>,
	input: {
		mailbox: ReplySender;
		request: OutboundRequest;
		now: Date;
		/** The API's rate limits, counted in the row's own batch: the row is written only when every take counts (db/outbound.ts). */
		admission?: Admission;
		/** Where the queue's send goes on after the answer (the request's waitUntil); without it, it is awaited. */
		afterAnswer?: (promise: Promise<unknown>) => void;
	}
): Promise<CreateResult> {
	const { mailbox, request, now, admission, afterAnswer } = input;
	const id = request.id ?? crypto.randomUUID();
	if (request.id) {
		const existing = await findOutbound(services.db, id);
		if (existing) return sameRequest(existing, mailbox.id);
	}

	const thread = request.inReplyTo ? await findThread(services.db, request.inReplyTo, mailbox.id) : null;
	// A logged subject is the sender's text, stored decoded: one line before it becomes ours.
	const threadSubject = thread?.subject ? oneLine(thread.subject) : '';
	const subject = request.subject ?? (threadSubject ? reSubject(threadSubject) : null);
	if (!subject) {
		return invalid({
			subject: request.inReplyTo
				? 'Enter a subject: the message inReplyTo names is not in the email log, so its subject is unknown'
				: 'Enter a subject'
		});
	}

	// A fully qualified domain's trailing dot has no place in a msg-id's dot-atom (RFC 5322 §3.6.4).
	const domain = mailbox.address.split('@').pop()!.replace(/\.$/, '');
	const messageId = `${crypto.randomUUID()}@${domain}`;
	const from = { name: oneLine(mailbox.name), address: mailbox.address };
	const composed = composeMessage({
		from,
		to: request.to,
		cc: request.cc ?? [],
		subject,
		text: request.text,
		html: request.html,
		attachments: request.attachments ?? [],
		messageId,
		inReplyTo: thread?.messageId ?? null,
		references: thread?.references ?? [],
		date: now
	});
	if (composed.size > MAX_OUTBOUND_MESSAGE_BYTES) {
		const mib = (composed.size / 1024 / 1024).toFixed(1);
		return invalid({ attachments: `The message would be ${mib} MiB encoded; the limit is ${MAX_OUTBOUND_MESSAGE_BYTES / 1024 / 1024} MiB` });
	}

	const text = cutToBytes(request.text, MAX_STORED_TEXT_BYTES);
	const html = request.html ? cutToBytes(await sanitizeHtml(request.html), MAX_STORED_HTML_BYTES) : null;
	const headers = cutToBytes(composed.headers, MAX_STORED_HEADER_BYTES);
	const row: NewOutbound = {
		id,
		mailboxId: mailbox.id,
		messageId,
		from,
		to: request.to,
		cc: request.cc ?? [],
		bcc: request.bcc ?? [],
		subject,
		inReplyTo: thread?.messageId ?? null,
		replyToLogId: thread?.logId ?? null,
		text: text.text,
		html: html?.text ?? null,
		headers: headers.text,
		attachments: (request.attachments ?? []).map((a) => ({ filename: a.filename, contentType: a.contentType, size: base64DecodedSize(a.content) })),
		truncated: text.truncated || Boolean(html?.truncated) || headers.truncated,
		size: composed.size,
		metadata: request.metadata ?? {},
		createdAt: now.toISOString()
	};
	// Issue 22: a message up to INLINE_COMPOSED_BYTES goes into its row, one write; the consumer puts
	// it in R2. Not one whose row is a cut copy: its whole content is read from R2 (api/outbound.ts).
	const inRow = composed.size <= INLINE_COMPOSED_BYTES && !row.truncated;
	const archive = () => putMessage(services.archive, composedKey(id), composed.raw, messageId);
	const insert = insertOutboundStatement(services.db, row, mailbox, admission?.takes ?? [], inRow ? rowCopy(composed, row.text) : null);
	// A larger one under an id made here is this request's alone: its bytes are written beside its
	// row. A client's id may arrive twice at once: its row decides whose bytes are kept, so they
	// are written after it.
	const archivedBeside = !inRow && !request.id;
	const [written, archived] = await Promise.allSettled([services.db.batch([insert, ...(admission?.statements ?? [])]), archivedBeside ? archive() : null]);
	if (written.status === 'rejected') {
		// Under a client's id the bytes may be another request's (the same id at once): left alone.
		if (archivedBeside) await takeBack(services, id, { row: false });
		throw written.reason;
	}
	const [inserted, ...counted] = written.value;
	if (inserted!.meta.changes !== 1) {
		// Not written: over a rate limit, the client's id taken, or the mailbox changed since it was read.
		if (archivedBeside) await takeBack(services, id, { row: false });
		admission?.enforce(counted);
		const existing = request.id ? await findOutbound(services.db, id) : null;
		return existing ? sameRequest(existing, mailbox.id) : { ok: false, reason: 'sender_changed' };
	}
	const stored = inRow ? null : archivedBeside ? archived : (await Promise.allSettled([archive()]))[0];
	if (stored?.status === 'rejected') {
		await takeBack(services, id, { row: true });
		throw stored.reason;
	}
	// Only now, with the row and its bytes stored, may the consumer see the id. The send is not the
	// request's to wait for (issue 22): a failed or lost one leaves the row `queued`, and the sweep
	// enqueues it (outbound/sweep.ts), so the answer does not wait on the queue.
	const enqueued = enqueue(services.queues.replies, [id]);
	if (afterAnswer) afterAnswer(enqueued);
	else await enqueued;
	// The answer is the row as written (issue 22: no read-back); the consumer may already be sending it.
	return { ok: true, outbound: insertedOutbound(row), created: true };
}

/**
 * A write of the row or of its bytes failed (or the row was refused): neither is kept, since a row
 * without its bytes could never be sent and bytes without a row are nobody's, so the help desk's
 * retry starts clean. Best effort: a failure here must not hide the first one.
 */
async function takeBack(services: Pick<Services, 'db' | 'archive'>, id: string, written: { row: boolean }): Promise<void> {
	await Promise.allSettled([written.row ? deleteOutbound(services.db, [id]) : null, services.archive.delete(composedKey(id))]);
}

function sameRequest(existing: StoredOutbound, mailboxId: string): CreateResult {
	if (existing.mailboxId !== mailboxId) {
		return { ok: false, reason: 'id_taken' };
	}
	return { ok: true, outbound: existing, created: false };
}

const invalid = (fields: Record<string, string>): CreateResult => ({ ok: false, reason: 'invalid', fields });

interface Thread {
	/** The parent's Message-ID (the reply's In-Reply-To), null when it has no valid one. */
	messageId: string | null;
	references: string[];
	subject: string | null;
	logId: string | null;
}

const NO_THREAD: Thread = { messageId: null, references: [], subject: null, logId: null };

/**
 * SPEC §10: `inReplyTo` is a logged message's id or a Message-ID, looked up in the replying
 * mailbox only (issue 18: another mailbox's subject and References are not this caller's to
 * read; its log id counts as unknown). A Message-ID found in the log (or among this
 * mailbox's own replies) brings its References and subject; one found nowhere still threads
 * by itself (In-Reply-To and References name it). Every id is checked again here, stored
 * ones included: rows written before the msg-id rule may hold anything.
 */
async function findThread(db: D1Database, inReplyTo: string, mailboxId: string): Promise<Thread> {
	if (isLogId(inReplyTo)) {
		const logged = await findMessage(db, inReplyTo.toLowerCase());
		return logged && logged.mailboxId === mailboxId ? fromLog(logged) : NO_THREAD;
	}
	// The request schema took only a msg-id or a log id; anything else threads nowhere.
	const messageId = parseMessageId(inReplyTo);
	if (!messageId) return NO_THREAD;
	const logged = await findMessageByMessageId(db, messageId, mailboxId);
	if (logged && logged.mailboxId === mailboxId) return fromLog(logged);
	const [ours] = (await findOutboundByMessageIds(db, [messageId])).filter((m) => m.mailboxId === mailboxId);
	if (ours) {
		const full = await findOutbound(db, ours.id);
		const parent = { ...readThreadIds(full?.headers ?? ''), messageId };
		return { messageId, references: replyReferences(parent, MAX_REFERENCES), subject: ours.subject, logId: null };
	}
	return { messageId, references: [messageId], subject: null, logId: null };
}

/** A logged parent: its stored Message-ID only if it is a msg-id, its References and In-Reply-To from its stored header block. */
function fromLog(logged: { id: string; messageId: string | null; headers: string; subject: string | null }): Thread {
	const messageId = logged.messageId && isMessageId(logged.messageId) ? logged.messageId : null;
	const parent = { ...readThreadIds(logged.headers), messageId };
	return { messageId, references: replyReferences(parent, MAX_REFERENCES), subject: logged.subject, logId: logged.id };
}

/** "Re: " once (RFC 5322 §3.6.5), whatever case or count of "Re:" the original carries. */
export function reSubject(subject: string): string {
	return /^\s*re\s*:/i.test(subject) ? subject.trim() : `Re: ${subject.trim()}`;
}
