/**
 * The events a help desk receives (SPEC §11) and their payloads: pure builders over the log
 * row, the parsed message and the outbound item. Recording happens in the caller's D1 batch
 * (the row and its event together, db/webhooks.ts `insertEventStatement`).
 */
import type { Email } from 'postal-mime';
import type { OutboundItem } from '../../src/lib/schema/outbound';
import type { WebhookEventType } from '../../src/lib/schema/webhook';
import { toLogItem, type LoggedMessage } from '../db/messages';
import type { NewWebhookEvent } from '../db/webhooks';
import type { WebhookTarget } from '../db/integrations';
import type { BodyText } from '../mail/body-text';
import { cutToBytes } from '../mail/byte-budgets';
import { detectAutoReply } from './auto-reply';
import { extractReply } from './reply-text';

/**
 * SPEC §11: a body stays under 1 MiB. Text, HTML and the reply share it; the log item, the
 * attachment list and the thread take the rest. What is cut is read whole through the API.
 */
export const MAX_PAYLOAD_TEXT_BYTES = 250_000;
export const MAX_PAYLOAD_HTML_BYTES = 400_000;
export const MAX_PAYLOAD_REPLY_BYTES = 100_000;
/** Attachments listed in a payload at most (each is also readable by its index through the API). */
const MAX_PAYLOAD_ATTACHMENTS = 100;

/** `msg_` + a random id: the `webhook-id`, stable across retries (Standard Webhooks). */
export const newEventId = () => `msg_${crypto.randomUUID().replace(/-/g, '')}`;

export function wants(target: WebhookTarget | null, type: WebhookEventType): target is WebhookTarget {
	return target !== null && target.events.includes(type);
}

/** The body as sent: `{ type, timestamp, data }` (Standard Webhooks). */
function envelope(type: string, at: string, data: unknown): string {
	return JSON.stringify({ type, timestamp: at, data });
}

export interface ThreadMatch {
	outboundId: string;
	metadata: Record<string, string>;
}

export interface ReceivedInput {
	logged: LoggedMessage;
	parsed: Email;
	/** The message's text, derived from its HTML when it has no text (made once, mail/body-text.ts). */
	body: BodyText;
	envelopeFrom: string;
	mailbox: { id: string; name: string; address: string };
	target: WebhookTarget;
	/** The message's In-Reply-To and References, read from its raw header by the msg-id rule (worker/mail/thread-ids.ts). */
	threadIds: { inReplyTo: string[]; references: string[] };
	thread: ThreadMatch | null;
	/** The Worker's public origin for URLs, or '' for relative ones. */
	origin: string;
}

/** `message.received` (SPEC §11): the log item plus what a help desk needs to open or update a ticket. */
export function messageReceivedEvent(input: ReceivedInput): NewWebhookEvent {
	const { logged, parsed, mailbox, target, origin } = input;
	const { text: fullText, fromHtml } = input.body;
	const text = cutToBytes(fullText, MAX_PAYLOAD_TEXT_BYTES);
	const html = cutToBytes(logged.html ?? '', MAX_PAYLOAD_HTML_BYTES);
	const reply = cutToBytes(fullText ? extractReply(fullText) : '', MAX_PAYLOAD_REPLY_BYTES);
	const auto = detectAutoReply(parsed.headers.map((h) => ({ key: h.key, value: h.value })), input.envelopeFrom);
	const base = `${origin}/api/messages/${logged.id}`;
	const data = {
		...toLogItem(logged),
		mailbox,
		integration: { id: target.integrationId, name: target.integrationName },
		text: fullText ? text.text : null,
		textFromHtml: fromHtml,
		html: logged.html === null ? null : html.text,
		reply: fullText ? reply.text : null,
		inReplyTo: input.threadIds.inReplyTo[0] ?? null,
		references: input.threadIds.references,
		autoReply: auto.auto,
		autoReplyReason: auto.reason,
		thread: input.thread,
		attachments: logged.attachments.slice(0, MAX_PAYLOAD_ATTACHMENTS).map((attachment, index) => ({ index, ...attachment, url: `${base}/attachments/${index}` })),
		rawUrl: `${base}/raw`,
		truncated: text.truncated || html.truncated || reply.truncated || logged.truncated
	};
	return { id: newEventId(), integrationId: target.integrationId, type: 'message.received', subjectId: logged.id, payload: envelope('message.received', logged.receivedAt, data), createdAt: logged.receivedAt };
}

/** `message.rejected` (SPEC §11, off by default): the log item with its reason. */
export function messageRejectedEvent(input: { logged: LoggedMessage; mailbox: { id: string; name: string; address: string }; target: WebhookTarget }): NewWebhookEvent {
	const { logged, mailbox, target } = input;
	const data = { ...toLogItem(logged), mailbox, integration: { id: target.integrationId, name: target.integrationName } };
	return { id: newEventId(), integrationId: target.integrationId, type: 'message.rejected', subjectId: logged.id, payload: envelope('message.rejected', logged.receivedAt, data), createdAt: logged.receivedAt };
}

/** `outbound.sent|failed|bounced` carry the outbound item as it is after the change. */
export function outboundEvent(input: { type: Extract<WebhookEventType, `outbound.${string}`>; item: OutboundItem; target: WebhookTarget; at: string }): NewWebhookEvent {
	return {
		id: newEventId(),
		integrationId: input.target.integrationId,
		type: input.type,
		subjectId: input.item.id,
		payload: envelope(input.type, input.at, input.item),
		createdAt: input.at
	};
}

/** `webhook.test`: what Send test event posts (SPEC §11), shaped like the others. */
export function testEvent(input: { integrationId: string; integrationName: string; at: string }): NewWebhookEvent {
	const data = { integration: { id: input.integrationId, name: input.integrationName }, message: 'This is a test event from Mailgate. Verify its signature with your signing secret.' };
	return { id: newEventId(), integrationId: input.integrationId, type: 'webhook.test', subjectId: null, payload: envelope('webhook.test', input.at, data), createdAt: input.at };
}

