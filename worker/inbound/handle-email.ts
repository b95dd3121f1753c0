/**
 * The inbound path (SPEC §5), as a pipeline: read the message once, find its mailbox,
 * authenticate it, recognise internal mail and bounces, classify forwarding, decide the verdict
 * (verdict.ts, pure), then log it: refused, or accepted with its content and webhook event.
 * Every delivery that reaches a verdict is logged, refused ones included; the handler throws
 * when the log cannot be written, so Email Routing retries or bounces instead of the message
 * vanishing.
 */
import type { Email } from 'postal-mime';
import type { FlowCheck } from '../../src/lib/schema/flow-check';
import { findWebhookTarget, type WebhookTarget } from '../db/integrations';
import { findMailboxByAddress, type StoredMailbox } from '../db/mailboxes';
import { findMessageByMessageId, type LoggedMessage } from '../db/messages';
import { findOutboundByMessageIds } from '../db/outbound';
import type { NewWebhookEvent } from '../db/webhooks';
import { toMailauthResolver } from '../dns/doh-resolver';
import { findProbeCheck, recordProbeArrival } from '../flow/recognise';
import { readBodyText } from '../mail/body-text';
import { cutToBytes, MAX_MESSAGE_BYTES, MAX_STORED_HEADER_BYTES, MAX_STORED_HTML_BYTES, MAX_STORED_TEXT_BYTES } from '../mail/byte-budgets';
import { readHeaderBlock } from '../mail/header-block';
import { htmlToText } from '../mail/html-text';
import { sanitizeHtml } from '../mail/sanitize-html';
import { readThreadIds, type ThreadIds } from '../mail/thread-ids';
import { applyBounce } from '../outbound/apply-bounce';
import { isSmtpTestMessage } from '../send/test-token';
import { messageReceivedEvent, messageRejectedEvent, wants, type ThreadMatch } from '../webhooks/events';
import { partBytes } from '../archive/parts';
import { authenticateMessage } from './authenticate';
import { recognizeBounce, type BounceReport } from './bounce';
import { findCloudflareHop } from './cloudflare-hop';
import { diagnoseEncoding } from './encoding';
import { classifyForwarding } from './forwarding';
import { notChecked, notForwarded, refusedRow, toRow, type RowInput } from './log-row';
import { applyDmarcPolicy } from './policy';
import { storeMessage } from './store-message';
import { decideVerdict, isAlias, type InboundVerdict } from './verdict';
import { parseMail } from './parse-mail';
import type { Services } from '../services';

/** Shown as the receiving host in authentication comments. */
const MTA = 'mailgate';

export interface InboundMessage {
	from: string;
	to: string;
	raw: ReadableStream<Uint8Array>;
	rawSize: number;
	setReject(reason: string): void | Promise<void>;
}

export interface InboundDependencies {
	now?: () => Date;
}

/** The message as read once: its bytes, postal-mime's parse, and the ids from its raw header section. */
interface ReadMessage {
	raw: Uint8Array;
	parsed: Email;
	headers: Array<{ key: string; value: string }>;
	/** The header section as delivered (mail/header-block.ts). */
	headerBlock: string;
	threadIds: ThreadIds;
}

/** What else a message is besides mail to the help desk (SPEC §10, §13, §16). */
type Recognised =
	| { kind: 'probe'; probe: FlowCheck }
	| { kind: 'test' }
	| { kind: 'bounce'; report: BounceReport }
	/** `htmlLines`: the HTML in htmlToText's `lines` mode, made once for the bounce and forwarding checks. */
	| { kind: 'message'; htmlLines: string | undefined };

export async function handleInbound(message: InboundMessage, services: Services, deps: InboundDependencies = {}): Promise<LoggedMessage | null> {
	const now = deps.now ?? (() => new Date());
	const receivedAt = now().toISOString();
	if (message.rawSize > MAX_MESSAGE_BYTES) {
		// Email Routing never delivers more; refusing without reading keeps the Worker in its memory limit.
		await message.setReject(`552 5.3.4 Message too big for this help desk (over ${MAX_MESSAGE_BYTES / 1024 / 1024} MiB)`);
		return null;
	}
	const { config } = services;
	const mail = await readMessage(message.raw);
	const { raw, parsed, headers, threadIds } = mail;
	const envelopeTo = message.to.trim();
	const headerBlock = cutToBytes(mail.headerBlock, MAX_STORED_HEADER_BYTES);
	const base = {
		id: crypto.randomUUID(),
		messageId: threadIds.messageId,
		envelope: { from: message.from, to: envelopeTo },
		from: { address: parsed.from?.address ?? null, name: parsed.from?.name || null },
		subject: parsed.subject ?? null,
		receivedAt,
		size: raw.byteLength,
		headers: headerBlock.text
	};
	const encoding = diagnoseEncoding({ raw, parsed });

	const mailbox = isAlias(envelopeTo) ? null : await findMailboxByAddress(services.db, envelopeTo);
	if (!mailbox) {
		const { reason } = decideVerdict({ recipient: isAlias(envelopeTo) ? 'alias' : 'unknown', envelopeTo });
		const row: RowInput = { ...base, kind: 'message', truncated: headerBlock.truncated, mailboxId: null, auth: notChecked(), forwarding: notForwarded(), encoding };
		return refuse(message, services, raw, refusedRow(row, reason));
	}

	const auth = await authenticateMessage({
		raw,
		envelopeFrom: message.from,
		hop: findCloudflareHop(headers),
		resolver: toMailauthResolver(config.resolver()),
		mta: MTA
	});
	const policy = applyDmarcPolicy(auth, config.trustedArcSealers);
	const recognised = await recognise(services.db, mail, { envelopeFrom: message.from, envelopeTo, mailbox, at: now() });
	const forwarding =
		recognised.kind === 'message'
			? classifyForwarding({ envelopeFrom: message.from, envelopeTo, headers, parsed, serviceAddresses: [mailbox.address], htmlLines: recognised.htmlLines })
			: notForwarded();
	const internal = recognised.kind === 'probe' || recognised.kind === 'test';
	const decided = decideVerdict({ recipient: 'service', policy, internal, forwarding: forwarding.class, manualForward: mailbox.manualForward });

	const row: RowInput = { ...base, kind: recognised.kind, truncated: headerBlock.truncated, mailboxId: mailbox.id, auth, forwarding, encoding };
	// SPEC §11: where this mailbox's mail goes (its integration's webhook), read once.
	const target = await findWebhookTarget(services.db, mailbox.integrationId);
	const about = { id: mailbox.id, name: mailbox.name, address: mailbox.address };
	if (decided.verdict === 'rejected') {
		const logged = refusedRow(row, decided.reason);
		const events = logged.kind === 'message' && wants(target, 'message.rejected') ? [messageRejectedEvent({ logged, mailbox: about, target })] : [];
		return refuse(message, services, raw, logged, events);
	}

	const { logged, body } = await acceptedRow(row, parsed, decided);
	// Bounces, probes and tests are never handed to the help desk as customer mail (SPEC §10, §13, §16).
	const events: NewWebhookEvent[] = [];
	if (logged.kind === 'message' && wants(target, 'message.received')) {
		const thread = await matchThread(services.db, threadIds, mailbox.id);
		events.push(messageReceivedEvent({ logged, parsed, body, envelopeFrom: message.from, mailbox: about, target, threadIds, thread, origin: config.publicOrigin }));
	}
	const inserted = await storeMessage(services, raw, logged, events, parsed.attachments.map((attachment) => attachment.content));
	if (recognised.kind === 'probe') await recordProbeArrival(services.db, recognised.probe, { at: now(), auth: logged.auth, logId: logged.id });
	if (recognised.kind === 'bounce') {
		// A redelivered bounce (its row already logged) is applied again with the first row's id,
		// so a failure between the two writes is mended by Email Routing's retry; applying is idempotent.
		const logId = inserted ? logged.id : ((await findMessageByMessageId(services.db, logged.messageId ?? '', mailbox.id))?.id ?? logged.id);
		await applyBounce(services, { report: recognised.report, logId, mailboxId: mailbox.id, at: receivedAt });
	}
	return logged;
}

async function readMessage(stream: ReadableStream<Uint8Array>): Promise<ReadMessage> {
	const raw = new Uint8Array(await new Response(stream).arrayBuffer());
	const parsed = await parseMail(raw);
	const headerBlock = readHeaderBlock(raw);
	return {
		raw,
		parsed,
		headers: parsed.headers.map((header) => ({ key: header.key, value: header.value })),
		headerBlock,
		// Issue 18: the ids come from the raw header by the msg-id rule (RFC 5322 §3.6.4), never
		// from postal-mime's values, which decode RFC 2047 words into line breaks.
		threadIds: readThreadIds(headerBlock)
	};
}

/**
 * SPEC §13: a mail flow probe (by its token) is logged as a probe, never handed to the help
 * desk, never refused (a refusal would bounce back here), and its arrival ends its check.
 * SPEC §16: the SMTP sending test's message (by its token, sent to this very address) is
 * internal mail like a probe. SPEC §10: a bounce carries the returned message as
 * message/rfc822 from a mailer, never a person: it is not a manual forward, and its null or
 * MAILER-DAEMON sender is never refused.
 */
async function recognise(
	db: D1Database,
	mail: ReadMessage,
	options: { envelopeFrom: string; envelopeTo: string; mailbox: StoredMailbox; at: Date }
): Promise<Recognised> {
	const { headers, raw, parsed, headerBlock } = mail;
	const probe = await findProbeCheck(db, { headers, mailboxId: options.mailbox.id, at: options.at });
	if (probe) return { kind: 'probe', probe };
	if (await isSmtpTestMessage(db, { headers, to: options.envelopeTo, at: options.at })) return { kind: 'test' };
	const htmlLines = parsed.html ? htmlToText(parsed.html, { mode: 'lines' }) : undefined;
	const report = recognizeBounce({ raw, parsed, envelopeFrom: options.envelopeFrom, headerBlock, htmlLines });
	return report ? { kind: 'bounce', report } : { kind: 'message', htmlLines };
}

/** SPEC §11: HTML-only mail gets a plain-text rendition, marked as derived, so it never shows empty. */
async function acceptedRow(row: RowInput, parsed: Email, decided: InboundVerdict): Promise<{ logged: LoggedMessage; body: ReturnType<typeof readBodyText> }> {
	const body = readBodyText(parsed);
	const text = cutToBytes(body.text, MAX_STORED_TEXT_BYTES);
	const html = cutToBytes(parsed.html ? await sanitizeHtml(parsed.html) : '', MAX_STORED_HTML_BYTES);
	const logged: LoggedMessage = {
		...toRow(row),
		truncated: row.truncated || text.truncated || html.truncated,
		verdict: decided.verdict,
		reason: decided.reason,
		text: parsed.text || body.fromHtml ? text.text : null,
		textFromHtml: body.fromHtml,
		html: parsed.html ? html.text : null,
		attachments: parsed.attachments.map((attachment) => ({
			filename: attachment.filename,
			contentType: attachment.mimeType,
			size: partBytes(attachment.content).byteLength
		}))
	};
	return { logged, body };
}

/**
 * SPEC §11 `thread`: the reply of ours this message answers, by In-Reply-To, then References
 * (newest first), among this mailbox's outbound messages.
 */
async function matchThread(db: D1Database, threadIds: ThreadIds, mailboxId: string): Promise<ThreadMatch | null> {
	const ids = [...new Set([...threadIds.inReplyTo, ...[...threadIds.references].reverse()])];
	if (ids.length === 0) return null;
	const ours = (await findOutboundByMessageIds(db, ids)).filter((m) => m.mailboxId === mailboxId);
	for (const id of ids) {
		const match = ours.find((m) => m.messageId === id);
		if (match) return { outboundId: match.id, metadata: match.metadata };
	}
	return null;
}

/**
 * Refuses the delivery and logs it. If the log write fails the handler still throws, so the
 * failure is visible; the refusal stands either way. (setReject is awaited because wrangler
 * dev's simulation records the reason asynchronously; on Cloudflare it returns nothing.)
 */
async function refuse(message: InboundMessage, services: Pick<Services, 'db' | 'archive' | 'queues'>, raw: Uint8Array, logged: LoggedMessage, events: NewWebhookEvent[] = []): Promise<LoggedMessage> {
	await message.setReject(logged.reason!);
	await storeMessage(services, raw, logged, events);
	return logged;
}
