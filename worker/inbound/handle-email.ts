/**
 * The inbound path (SPEC §5): recipient, authentication, DMARC policy, forwarding, encoding,
 * storage. Every delivery that reaches a verdict is logged, refused ones included; the
 * handler throws when the log cannot be written, so Email Routing retries or bounces instead
 * of the message vanishing.
 */
import PostalMime from 'postal-mime';
import { findWebhookTarget } from '../db/integrations';
import { findOutboundByMessageIds } from '../db/outbound';
import { insertEventStatement, type NewWebhookEvent } from '../db/webhooks';
import { enqueueEvents } from '../webhooks/enqueue';
import { messageReceivedEvent, messageRejectedEvent, wants, type ThreadMatch } from '../webhooks/events';
import { findMailboxByAddress } from '../db/mailboxes';
import { findMessageByMessageId, insertMessageStatement, type LoggedMessage } from '../db/messages';
import { createCachingResolver, createDohResolver, DEFAULT_DNS_RESOLVER_URL, toMailauthResolver } from '../dns/doh-resolver';
import { authenticateMessage, dkimSummary, type AuthVerdict } from './authenticate';
import { findCloudflareHop } from './cloudflare-hop';
import { diagnoseEncoding } from './encoding';
import { classifyForwarding, manualForwardRejectReason } from './forwarding';
import { applyDmarcPolicy, parseTrustedSealers } from './policy';
import { sanitizeHtml } from '../mail/sanitize-html';
import { readBodyText } from '../mail/body-text';
import { recognizeBounce } from './bounce';
import { applyBounce } from './apply-bounce';
import { partBytes, partsKey, putParts, type PartContent } from './attachment-parts';
import { findProbeCheck, recordProbeArrival } from '../flow/recognise';
import { isSmtpTestMessage } from '../smtp/test-token';
import { readThreadIds, type ThreadIds } from '../mail/thread-ids';
import { cutToBytes, MAX_MESSAGE_BYTES, MAX_STORED_HEADER_BYTES, MAX_STORED_HTML_BYTES, MAX_STORED_TEXT_BYTES } from '../mail/byte-budgets';
import { readHeaderBlock } from '../mail/header-block';

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

export async function handleInbound(message: InboundMessage, env: Env, deps: InboundDependencies = {}): Promise<LoggedMessage | null> {
	const now = deps.now ?? (() => new Date());
	const receivedAt = now().toISOString();
	if (message.rawSize > MAX_MESSAGE_BYTES) {
		// Email Routing never delivers more; refusing without reading keeps the Worker in its memory limit.
		await message.setReject(`552 5.3.4 Message too big for this help desk (over ${MAX_MESSAGE_BYTES / 1024 / 1024} MiB)`);
		return null;
	}
	const raw = new Uint8Array(await new Response(message.raw).arrayBuffer());
	const parsed = await PostalMime.parse(raw, { rfc822Attachments: true });
	const headers = parsed.headers.map((header) => ({ key: header.key, value: header.value }));
	const rawHeaders = readHeaderBlock(raw);
	const headerBlock = cutToBytes(rawHeaders, MAX_STORED_HEADER_BYTES);
	// Issue 18: the ids come from the raw header by the msg-id rule (RFC 5322 §3.6.4), never
	// from postal-mime's values, which decode RFC 2047 words into line breaks.
	const threadIds = readThreadIds(rawHeaders);
	const envelopeTo = message.to.trim();

	const base = {
		id: crypto.randomUUID(),
		messageId: threadIds.messageId,
		envelope: { from: message.from, to: envelopeTo },
		from: { address: parsed.from?.address ?? null, name: parsed.from?.name || null },
		subject: parsed.subject ?? null,
		receivedAt,
		size: raw.byteLength,
		headers: headerBlock.text,
		kind: 'message' as LoggedMessage['kind']
	};
	const encoding = diagnoseEncoding({ raw, parsed });

	// SPEC §5.1: only configured service addresses, never aliases of them.
	const localPart = envelopeTo.split('@')[0] ?? '';
	const mailbox = localPart.includes('+') ? null : await findMailboxByAddress(env.DB, envelopeTo);
	if (!mailbox) {
		const reason = localPart.includes('+')
			? `550 5.1.1 <${envelopeTo}>: aliases (sub-addresses) are not supported; write to the service address itself`
			: `550 5.1.1 <${envelopeTo}>: this address is not a service address of this help desk`;
		return refuse(message, env, raw, {
			...base,
			truncated: headerBlock.truncated,
			mailboxId: null,
			reason,
			auth: notChecked(),
			forwarding: { class: 'none', evidence: [] },
			encoding
		});
	}

	const resolver = createCachingResolver(createDohResolver({ url: env.DNS_RESOLVER_URL || DEFAULT_DNS_RESOLVER_URL }));
	const auth = await authenticateMessage({
		raw,
		envelopeFrom: message.from,
		hop: findCloudflareHop(headers),
		resolver: toMailauthResolver(resolver),
		mta: MTA
	});
	const policy = applyDmarcPolicy(auth, parseTrustedSealers(env.TRUSTED_ARC_SEALERS));
	// SPEC §13: a mail flow probe (by its token) is logged as a probe, never handed to the help
	// desk, never refused (a refusal would bounce back here), and its arrival ends its check.
	const probe = await findProbeCheck(env.DB, { headers, mailboxId: mailbox.id, at: now() });
	// SPEC §16: the SMTP sending test's message (by its token, sent to this very address) is
	// internal mail like a probe: logged as a test, never handed to the help desk, never refused.
	const smtpTest = !probe && (await isSmtpTestMessage(env.DB, { headers, to: envelopeTo, at: now() }));
	// SPEC §10: a bounce carries the returned message as message/rfc822 from a mailer, never a
	// person: it is not a manual forward, and its null or MAILER-DAEMON sender is never refused.
	const bounce = probe || smtpTest ? null : recognizeBounce({ raw, parsed, envelopeFrom: message.from });
	if (bounce) base.kind = 'bounce';
	if (probe) base.kind = 'probe';
	if (smtpTest) base.kind = 'test';
	const forwarding = bounce || probe || smtpTest
		? { class: 'none' as const, evidence: [] }
		: classifyForwarding({
				envelopeFrom: message.from,
				envelopeTo,
				headers,
				parsed,
				serviceAddresses: [mailbox.address]
			});

	let verdict = (probe || smtpTest) && policy.verdict === 'rejected' ? 'quarantined' : policy.verdict;
	let reason = policy.reason;
	if (verdict !== 'rejected' && forwarding.class === 'manual' && mailbox.manualForward === 'reject') {
		verdict = 'rejected';
		reason = manualForwardRejectReason();
	}
	const row = { ...base, truncated: headerBlock.truncated, mailboxId: mailbox.id, auth, forwarding, encoding };
	// SPEC §11: where this mailbox's mail goes (its integration's webhook), read once.
	const target = await findWebhookTarget(env.DB, mailbox.integrationId);
	const about = { id: mailbox.id, name: mailbox.name, address: mailbox.address };
	if (verdict === 'rejected') {
		return refuse(message, env, raw, { ...row, reason: reason ?? 'refused' }, (logged) =>
			logged.kind === 'message' && wants(target, 'message.rejected') ? [messageRejectedEvent({ logged, mailbox: about, target })] : []
		);
	}

	// SPEC §11: HTML-only mail gets a plain-text rendition, marked as derived, so it never shows empty.
	const body = readBodyText(parsed);
	const textFromHtml = body.fromHtml;
	const text = cutToBytes(body.text, MAX_STORED_TEXT_BYTES);
	const html = cutToBytes(parsed.html ? await sanitizeHtml(parsed.html) : '', MAX_STORED_HTML_BYTES);
	const logged: LoggedMessage = {
		...toRow(row),
		truncated: headerBlock.truncated || text.truncated || html.truncated,
		verdict,
		reason,
		text: parsed.text || textFromHtml ? text.text : null,
		textFromHtml,
		html: parsed.html ? html.text : null,
		attachments: parsed.attachments.map((attachment) => ({
			filename: attachment.filename,
			contentType: attachment.mimeType,
			size: partBytes(attachment.content).byteLength
		}))
	};
	// Bounces, probes and tests are never handed to the help desk as customer mail (SPEC §10, §13, §16).
	const events =
		logged.kind === 'message' && wants(target, 'message.received')
			? [
					messageReceivedEvent({
						logged,
						parsed,
						body,
						envelopeFrom: message.from,
						mailbox: about,
						target,
						threadIds,
						thread: await matchThread(env.DB, threadIds, mailbox.id),
						origin: env.PUBLIC_ORIGIN ?? ''
					})
				]
			: [];
	const inserted = await store(env, raw, logged, events, parsed.attachments.map((attachment) => attachment.content));
	if (probe) await recordProbeArrival(env.DB, probe, { at: now(), auth: logged.auth, logId: logged.id });
	if (bounce) {
		// A redelivered bounce (its row already logged) is applied again with the first row's id,
		// so a failure between the two writes is mended by Email Routing's retry; applying is idempotent.
		const logId = inserted ? logged.id : ((await findMessageByMessageId(env.DB, logged.messageId ?? '', mailbox.id))?.id ?? logged.id);
		await applyBounce(env, { report: bounce, logId, mailboxId: mailbox.id, at: receivedAt });
	}
	return logged;
}

/**
 * SPEC §5.6: the original goes to the archive before the row, so there is never a row without
 * its original; either write failing fails the handler. A redelivery (same Message-ID, same
 * mailbox) keeps the first row and its original, and drops the new copy. The attachments'
 * bytes (`parts`, in the order of `logged.attachments`) are kept apart too, so a download never
 * parses the whole original again (attachment-parts.ts).
 */
async function store(env: Env, raw: Uint8Array, logged: LoggedMessage, events: NewWebhookEvent[] = [], parts: readonly PartContent[] = []): Promise<boolean> {
	await env.MAIL_ARCHIVE.put(logged.id, raw, {
		httpMetadata: { contentType: 'message/rfc822' },
		customMetadata: { messageId: logged.messageId ?? '' }
	});
	const archived = parts.length > 0 ? [logged.id, partsKey(logged.id)] : [logged.id];
	let inserted: boolean;
	try {
		if (parts.length > 0) await putParts(env.MAIL_ARCHIVE, logged.id, parts);
		// SPEC §11: the row and the events announcing it in one batch (one transaction): a crash
		// can lose neither alone. An event is recorded only if this row was (not a redelivery).
		const onlyIfLogged = { sql: 'EXISTS (SELECT 1 FROM messages WHERE id = ?1)', values: [logged.id] };
		const [result] = await env.DB.batch([
			insertMessageStatement(env.DB, logged),
			...events.map((event) => insertEventStatement(env.DB, event, onlyIfLogged))
		]);
		inserted = result!.meta.changes === 1;
	} catch (error) {
		await env.MAIL_ARCHIVE.delete(archived).catch(() => {});
		throw error;
	}
	if (!inserted) await env.MAIL_ARCHIVE.delete(archived);
	else await enqueueEvents(env, events.map((event) => event.id));
	return inserted;
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

type RowInput = Omit<LoggedMessage, 'verdict' | 'reason' | 'text' | 'textFromHtml' | 'html' | 'attachments' | 'auth' | 'authDetails' | 'forwarding' | 'forwardingEvidence' | 'encoding'> & {
	auth: AuthVerdict;
	forwarding: { class: LoggedMessage['forwarding']; evidence: string[] };
	encoding: LoggedMessage['encoding'];
};

function toRow(input: RowInput): Omit<LoggedMessage, 'verdict' | 'reason' | 'text' | 'textFromHtml' | 'html' | 'attachments'> {
	const { auth, forwarding, encoding, ...rest } = input;
	return {
		...rest,
		auth: { spf: auth.spf.result, dkim: dkimSummary(auth.dkim), dmarc: auth.dmarc.result, arc: auth.arc.result },
		authDetails: auth,
		forwarding: forwarding.class,
		forwardingEvidence: forwarding.evidence,
		encoding
	};
}

/**
 * Refuses the delivery and logs it. If the log write fails the handler still throws, so the
 * failure is visible; the refusal stands either way. (setReject is awaited because wrangler
 * dev's simulation records the reason asynchronously; on Cloudflare it returns nothing.)
 */
async function refuse(
	message: InboundMessage,
	env: Env,
	raw: Uint8Array,
	input: RowInput & { reason: string },
	events: (logged: LoggedMessage) => NewWebhookEvent[] = () => []
): Promise<LoggedMessage> {
	const { reason, ...row } = input;
	const logged: LoggedMessage = { ...toRow(row), verdict: 'rejected', reason, text: null, textFromHtml: false, html: null, attachments: [] };
	await message.setReject(reason);
	await store(env, raw, logged, events(logged));
	return logged;
}

function notChecked(): AuthVerdict {
	const comment = 'not checked: the recipient is not a service address';
	return {
		spf: { result: 'none', domain: null, clientIp: null, helo: null, comment },
		dkim: [],
		dmarc: { result: 'none', domain: null, policy: null, spfAligned: false, dkimAligned: false, comment },
		arc: { result: 'none', sealer: null, instance: 0, comment }
	};
}
