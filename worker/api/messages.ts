/** /api/messages: the email log with filters and keyset pagination (SPEC §7). */
import { z } from 'zod';
import { fieldErrors } from '../../src/lib/schema/api-error';
import { findMessage, findReplyOfBounce, garbledSenders, listMessages, mailboxHealth, toLogItem } from '../db/messages';
import { DAY_MS, retentionStart } from '../inbound/retention';
import { outboundHealth, type OutboundHealth } from '../db/outbound';
import { messageKindValues, normaliseMessageId, safeFileName, verdictValues } from '../../src/lib/schema/message';
import { originalKey } from '../archive/keys';
import { emlResponse, readMessageContent, readOriginalAttachment } from '../archive/originals';
import { readPart } from '../archive/parts';
import { HttpError, json, validationFailed } from './http';
import { enforceRateLimits, rateChecks } from './rate-limit';
import { decodeCursor, pageOf, PAGE_SIZE, receivedAfter } from './paging';
import { scopedMailboxes, type Handler } from './route';

const querySchema = z.object({
	/** `none`: deliveries to addresses that are not service addresses. */
	mailboxId: z.string().min(1).max(100).optional(),
	messageId: z.string().min(1).max(998).optional(),
	from: z
		.string()
		.trim()
		.max(320)
		.regex(/^(?:[^@\s]+@)?@?[^@\s]+\.[^@\s]+$/, { error: 'Enter an address (name@example.com) or a domain (example.com)' })
		.optional(),
	verdict: z.enum(verdictValues, { error: 'Use accepted, quarantined or rejected' }).optional(),
	/** SPEC §16: customer mail or one kind of internal mail. */
	kind: z.enum(messageKindValues, { error: 'Use message, test, probe or bounce' }).optional(),
	since: z.iso.datetime({ offset: true, error: 'Use an ISO 8601 date and time' }).optional(),
	until: z.iso.datetime({ offset: true, error: 'Use an ISO 8601 date and time' }).optional(),
	cursor: z.string().max(200).optional()
}).refine((q) => !q.since || !q.until || new Date(q.since) < new Date(q.until), {
	path: ['until'],
	error: 'Choose a time after the start of the range'
});


export const list: Handler = async ({ request, services, scope }) => {
	const params = Object.fromEntries(new URL(request.url).searchParams);
	const parsed = querySchema.safeParse(params);
	if (!parsed.success) throw validationFailed(fieldErrors(parsed.error.issues));
	const q = parsed.data;
	const toIso = (value?: string) => (value ? new Date(value).toISOString() : undefined);
	const items = await listMessages(services.db, {
		...scopedMailboxes(scope, mailboxParam(q.mailboxId)),
		messageId: q.messageId ? (normaliseMessageId(q.messageId) ?? undefined) : undefined,
		from: q.from,
		verdict: q.verdict,
		kind: q.kind,
		since: toIso(q.since),
		until: toIso(q.until),
		after: q.cursor ? receivedAfter(decodeCursor(q.cursor)) : undefined,
		limit: PAGE_SIZE + 1
	});
	return json(pageOf(items, (m) => ({ at: m.receivedAt, id: m.id }), toLogItem));
};

const scopeSchema = z.object({ mailboxId: z.string().min(1).max(100).optional() });

/** `?mailboxId=`: one mailbox, `none` for refused unknown recipients, or all when absent. */
function scope(request: Request): string | null | undefined {
	const parsed = scopeSchema.safeParse(Object.fromEntries(new URL(request.url).searchParams));
	if (!parsed.success) throw validationFailed(fieldErrors(parsed.error.issues));
	return mailboxParam(parsed.data.mailboxId);
}

/** `mailboxId=none` names deliveries to addresses that are not service addresses (no mailbox). */
const mailboxParam = (id: string | undefined): string | null | undefined => (id === 'none' ? null : id);

/** `GET /api/mailbox-health`: verdict counts for 24 hours and 30 days, the top rejection reason. */
export const health: Handler = async ({ request, services, now }) => {
	const at = now();
	const since = { day: new Date(at.getTime() - DAY_MS).toISOString(), month: retentionStart(at) };
	const mailboxId = scope(request);
	const [inbound, replies] = await Promise.all([
		mailboxHealth(services.db, since, mailboxId),
		mailboxId === null ? Promise.resolve([]) : outboundHealth(services.db, since, mailboxId)
	]);
	// SPEC §10: sent, failed and bounced counts beside the inbound ones; a mailbox that only sent
	// (no inbound mail in 30 days) still gets an item.
	const empty = () => ({ accepted: 0, quarantined: 0, rejected: 0 });
	const items = inbound.map((item) => ({ ...item, outbound: undefined as OutboundHealth | undefined }));
	for (const { mailboxId: id, ...counts } of replies) {
		const item = items.find((i) => i.mailboxId === id);
		if (item) item.outbound = { mailboxId: id, ...counts };
		else items.push({ mailboxId: id, last24h: empty(), last30d: empty(), topRejection: null, lastReceivedAt: null, outbound: { mailboxId: id, ...counts } });
	}
	const zero = { sent: 0, failed: 0, bounced: 0, limitDeferred: 0 };
	return json({
		items: items.map(({ outbound, ...item }) => ({
			...item,
			outbound: item.mailboxId === null ? undefined : { last24h: outbound?.last24h ?? zero, last30d: outbound?.last30d ?? zero, lastSentAt: outbound?.lastSentAt ?? null }
		})),
		since: since.month
	});
};

/** `GET /api/messages/garbled-senders`: who sent garbled mail in the log's 30 days (SPEC §9). */
export const garbled: Handler = async ({ request, services, now }) => {
	const since = retentionStart(now());
	return json({ items: await garbledSenders(services.db, since, scope(request)), since });
};

const notFound = () => new HttpError(404, 'not_found', 'No such message in the email log (it may be older than 30 days).');
const originalGone = () => new HttpError(404, 'not_found', 'The original of this message is no longer in the archive.');

export const read: Handler = async ({ services, params }) => {
	const message = await findMessage(services.db, params.id!);
	if (!message) throw notFound();
	// D1 holds a cut copy (SPEC §5.6); the archived original has it all. Refused mail keeps no
	// content (SPEC §5.6): only its header block is read.
	const whole = message.truncated ? await readMessageContent(services.archive, originalKey(message.id), { headersOnly: message.verdict === 'rejected' }) : null;
	const { headers, text, html } = { ...message, ...whole };
	return json({
		...toLogItem(message),
		// SPEC §16: a bounce's page is headed with the reply it reports on.
		...(message.kind === 'bounce' && message.mailboxId ? { bounceFor: await findReplyOfBounce(services.db, message.id, message.mailboxId) } : {}),
		authDetails: message.authDetails,
		forwardingEvidence: message.forwardingEvidence,
		encodingFindings: message.encoding.findings,
		headers,
		text,
		html,
		attachments: message.attachments
	});
};

/** `GET /api/messages/:id/raw`: the original, byte for byte, as `<Message-ID>.eml`. */
export const raw: Handler = async ({ services, params, now, principal }) => {
	const message = await findMessage(services.db, params.id!);
	if (!message) throw notFound();
	await enforceRateLimits({ db: services.db, now, overrides: services.config.rateLimits }, rateChecks('download', principal, message.mailboxId));
	const eml = await emlResponse(services.archive, originalKey(message.id), message.messageId ?? message.id);
	if (!eml) throw originalGone();
	return eml;
};

/**
 * `GET /api/messages/:id/attachments/:index` (SPEC §11): the attachment's bytes, always as a
 * download that no browser renders (whatever its type says). Read from the parts kept apart at
 * inbound time (one ranged read); a message stored before they were kept is parsed from its
 * archived original, as every download once was.
 */
export const attachment: Handler = async ({ services, params, now, principal }) => {
	const message = await findMessage(services.db, params.id!);
	if (!message) throw notFound();
	const index = Number(params.index);
	if (!Number.isInteger(index) || index < 0 || index >= message.attachments.length) throw new HttpError(404, 'not_found', 'No attachment with this index.');
	await enforceRateLimits({ db: services.db, now, overrides: services.config.rateLimits }, rateChecks('download', principal, message.mailboxId));
	const listed = message.attachments[index]!;
	const name = listed.filename || `attachment-${index}`;
	const stored = await readPart(services.archive, message.id, message.attachments.map((part) => part.size), index);
	if (stored) return attachmentResponse(stored, listed.size, name, listed.contentType);

	const part = await readOriginalAttachment(services.archive, originalKey(message.id), index);
	if (part === 'gone') throw originalGone();
	if (!part) throw new HttpError(404, 'not_found', 'No attachment with this index.');
	return attachmentResponse(part.bytes, part.bytes.byteLength, part.filename || `attachment-${index}`, part.contentType);
};

function attachmentResponse(body: ReadableStream | Uint8Array, size: number, name: string, contentType: string): Response {
	return new Response(body, {
		headers: {
			'content-type': /^[\w.+-]+\/[\w.+-]+$/.test(contentType) ? contentType : 'application/octet-stream',
			'content-length': String(size),
			// RFC 6266: an ASCII fallback and the exact name (RFC 5987) for non-ASCII names.
			'content-disposition': `attachment; filename="${safeFileName(name)}"; filename*=UTF-8''${encodeURIComponent(name)}`,
			'x-content-type-options': 'nosniff',
			'content-security-policy': "default-src 'none'; sandbox",
			'cache-control': 'no-store'
		}
	});
}
