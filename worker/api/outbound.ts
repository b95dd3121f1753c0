/** Outbound mail over HTTP (SPEC §10 "Request" and "Read it"). */
import { fieldErrors } from '../../src/lib/schema/api-error';
import { MAX_OUTBOUND_BODY_BYTES, outboundListQuerySchema, outboundRequestSchema } from '../../src/lib/schema/outbound';
import { liftPause } from '../db/mailboxes';
import { findOutbound, findReplySender, listOutbound, requeueOutbound, toOutboundItem, type ReplySender, type StoredOutbound } from '../db/outbound';
import { enqueue } from '../jobs/enqueue';
import { composedKey } from '../archive/keys';
import { readMessageContent } from '../archive/originals';
import { composedEml } from '../outbound/composed';
import { createOutbound, type CreateResult } from '../outbound/create';
import { forgetSender, rememberedSender, rememberSender } from '../outbound/senders';
import { answerFor, HttpError, json, readBody, validationFailed, type RefusalAnswers } from './http';
import { enforceRateLimits, prepareRateLimits, rateChecks } from './rate-limit';
import { createdAfter, decodeCursor, pageOf, PAGE_SIZE } from './paging';
import { scopedMailboxes, type Handler } from './route';

const notFound = () => new HttpError(404, 'not_found', 'No such outbound message (it may be older than 30 days).');

/** Each reason a reply is refused (outbound/create.ts), as its HTTP answer. */
const CREATE_REFUSED: RefusalAnswers<Extract<CreateResult, { ok: false }>> = {
	id_taken: () => new HttpError(409, 'id_taken', 'This id belongs to a message from another mailbox; use a new UUID.'),
	invalid: ({ fields }) => validationFailed(fields),
	sender_changed: () => new HttpError(409, 'mailbox_changed', 'The mailbox changed while the reply was being stored; send it again.')
};

/**
 * `POST /api/mailboxes/:id/outbound`: 202 with the item, `queued`; a retried request returns the
 * first. Issue 22: after authentication one write, the row, its composed message and its rate
 * limits in one D1 batch (a message over 128 KiB to R2 beside it), then the queue, told after the
 * answer (the mailbox read first only when this isolate has not seen it). A client over a limit in this window is refused before its body
 * (up to 28 MiB) is read; D1 has the last word either way.
 */
export const create: Handler = async ({ request, services, params, now, principal, waitUntil }) => {
	const limits = prepareRateLimits({ db: services.db, now, overrides: services.config.rateLimits }, rateChecks('outbound', principal, params.id!));
	const count = async () => limits.enforce(await services.db.batch(limits.statements));
	if (limits.refusedLately) await count();
	const mailbox = rememberedSender(params.id!) ?? (await readSender(services.db, params.id!));
	const input = await readBody(request, outboundRequestSchema, MAX_OUTBOUND_BODY_BYTES);
	// A client's id is looked up before anything is written (a retry answers the first item), so
	// its limits count first, as a retried request has always been counted.
	const countedAlready = limits.refusedLately || Boolean(input.id);
	if (input.id && !limits.refusedLately) await count();
	let result = await createOutbound(services, { mailbox, request: input, now: now(), admission: countedAlready ? undefined : limits, afterAnswer: waitUntil });
	if (!result.ok && result.reason === 'sender_changed') {
		// Renamed, readdressed or deleted since it was read: read it again (404 if gone); the limits counted already.
		forgetSender(mailbox.id);
		result = await createOutbound(services, { mailbox: await readSender(services.db, params.id!), request: input, now: now(), afterAnswer: waitUntil });
	}
	if (!result.ok) throw answerFor(CREATE_REFUSED, result);
	return json(toOutboundItem(result.outbound), 202, { location: `/api/outbound/${result.outbound.id}` });
};

/** The mailbox a reply goes out as, read and remembered; 404 when it does not exist. */
async function readSender(db: D1Database, mailboxId: string): Promise<ReplySender> {
	const sender = await findReplySender(db, mailboxId);
	if (!sender) throw new HttpError(404, 'not_found', 'This mailbox does not exist.');
	rememberSender(sender);
	return sender;
}

/** `GET /api/outbound`: newest first, 50 a page, by keyset cursor. */
export const list: Handler = async ({ request, services, scope }) => {
	const parsed = outboundListQuerySchema.safeParse(Object.fromEntries(new URL(request.url).searchParams));
	if (!parsed.success) throw validationFailed(fieldErrors(parsed.error.issues));
	const q = parsed.data;
	const mine = scopedMailboxes(scope, q.mailboxId);
	const items = await listOutbound(services.db, {
		mailboxId: mine.mailboxId ?? undefined,
		mailboxIds: mine.mailboxIds,
		status: q.status,
		replyToLogId: q.replyToLogId,
		after: q.cursor ? createdAfter(decodeCursor(q.cursor)) : undefined,
		limit: PAGE_SIZE + 1
	});
	return json(pageOf(items, (m) => ({ at: m.createdAt, id: m.id }), toOutboundItem));
};

/** `GET /api/outbound/:id`: the item with its text, sanitised HTML, header block and attachments. */
export const read: Handler = async ({ services, params }) => {
	const outbound = await findOutbound(services.db, params.id!);
	if (!outbound) throw notFound();
	// D1 holds a cut copy; the composed message has it all (in R2: a row keeps none whose content it cut, outbound/composed.ts).
	const whole = outbound.truncated ? await readMessageContent(services.archive, composedKey(outbound.id)) : null;
	const { headers, text, html } = { ...outbound, ...whole };
	return json({ ...toOutboundItem(outbound), text, html, headers, attachments: outbound.attachments });
};

/** `GET /api/outbound/:id/raw`: exactly the bytes that left (or will leave), as `<Message-ID>.eml`. */
export const raw: Handler = async ({ services, params, now, principal }) => {
	const outbound = await findOutbound(services.db, params.id!);
	if (!outbound) throw notFound();
	await enforceRateLimits({ db: services.db, now, overrides: services.config.rateLimits }, rateChecks('download', principal, outbound.mailboxId));
	const eml = await composedEml(services, outbound);
	if (!eml) throw new HttpError(404, 'not_found', 'The composed message is no longer in the archive.');
	return eml;
};

/** Why a message cannot be queued again now, in the admin's words (the 409 of retry). */
const NOT_REQUEUEABLE: Partial<Record<StoredOutbound['status'], string>> = {
	queued: 'This message is already queued: it leaves in a moment.',
	sending: 'This message is being sent right now; wait for the outcome.',
	sent: 'This message was sent already; the server accepted it, so it is not sent again.'
};

/**
 * `POST /api/outbound/:id/retry`: a failed or bounced message (Retry), or a deferred one (Send
 * now, SPEC §16), is queued again at once; 409 when it is queued, sending or sent (it may have
 * left meanwhile). A deferred one's own delayed queue message later finds it taken and does nothing.
 */
export const retry: Handler = async ({ services, params }) => {
	const outbound = await requeueOutbound(services.db, params.id!);
	if (!outbound) {
		const current = await findOutbound(services.db, params.id!);
		if (!current) throw notFound();
		throw new HttpError(409, 'not_retryable', NOT_REQUEUEABLE[current.status] ?? `This message is ${current.status}; it cannot be queued again.`, {
			current: toOutboundItem(current)
		});
	}
	// SPEC §15: the admin asks for it now, so a provider's pause of the mailbox is lifted (a limit answered again pauses it again).
	if (outbound.mailboxId) await liftPause(services.db, outbound.mailboxId);
	await enqueue(services.queues.replies, [outbound.id]);
	return json(toOutboundItem(outbound), 202);
};
