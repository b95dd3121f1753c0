/**
 * The email log as the API returns it (SPEC §5.6, §7): list items, the full message with its
 * evidence, mailbox health and the garbled-sender counts the troubleshooting panels use.
 */
import { z } from 'zod';

export const verdictValues = ['accepted', 'quarantined', 'rejected'] as const;
export type Verdict = (typeof verdictValues)[number];

/**
 * SPEC §16: customer mail (`message`) and internal mail: the SMTP sending test's message, a mail
 * flow check's probe (SPEC §13), a bounce (SPEC §10).
 */
export const messageKindValues = ['message', 'test', 'probe', 'bounce'] as const;
export type MessageKind = (typeof messageKindValues)[number];
/** How the log names each kind (its filter and badges). */
export const messageKindLabels: Record<MessageKind, string> = {
	message: 'Customer mail',
	test: 'SMTP test',
	probe: 'Flow check probe',
	bounce: 'Bounce'
};

export const authResultValues = ['pass', 'fail', 'softfail', 'neutral', 'none', 'temperror', 'permerror'] as const;
export type AuthResult = (typeof authResultValues)[number];

export const forwardingValues = ['none', 'native', 'manual'] as const;
export type Forwarding = (typeof forwardingValues)[number];

/** Parse results leniently: a value a newer Worker adds shows as it is rather than failing the page. */
const result = z.string();

export const messageItemSchema = z.object({
	id: z.string(),
	mailboxId: z.string().nullable(),
	messageId: z.string().nullable(),
	envelope: z.object({ from: z.string(), to: z.string() }),
	from: z.object({ address: z.string().nullable(), name: z.string().nullable() }),
	subject: z.string().nullable(),
	receivedAt: z.string(),
	size: z.number(),
	verdict: z.enum(verdictValues),
	reason: z.string().nullable(),
	auth: z.object({ spf: result, dkim: result, dmarc: result, arc: result }),
	forwarding: z.enum(forwardingValues),
	encoding: z.object({ charsets: z.array(z.string()), garbled: z.boolean(), blank: z.boolean() }),
	truncated: z.boolean().optional(),
	/** The message has no plain-text part: `text` is a rendition of its HTML (absent from an older Worker's answers). */
	textFromHtml: z.boolean().optional(),
	/** SPEC §7, §16: a customer's message, or internal mail (an SMTP test, a mail flow probe, a delivery status notification). */
	kind: z.enum(messageKindValues).optional()
});
export type MessageItem = z.infer<typeof messageItemSchema>;

export const messagePageSchema = z.object({ items: z.array(messageItemSchema), nextCursor: z.string().nullable() });
export type MessagePage = z.infer<typeof messagePageSchema>;

export const authDetailsSchema = z.object({
	spf: z.object({
		result,
		domain: z.string().nullable(),
		clientIp: z.string().nullable(),
		helo: z.string().nullable(),
		comment: z.string().nullable()
	}),
	dkim: z.array(
		z.object({
			domain: z.string().nullable(),
			selector: z.string().nullable(),
			result,
			aligned: z.boolean(),
			comment: z.string().nullable()
		})
	),
	dmarc: z.object({
		result,
		domain: z.string().nullable(),
		policy: z.enum(['none', 'quarantine', 'reject']).nullable(),
		spfAligned: z.boolean(),
		dkimAligned: z.boolean(),
		comment: z.string().nullable()
	}),
	arc: z.object({
		result,
		sealer: z.string().nullable(),
		instance: z.number(),
		comment: z.string().nullable()
	})
});
export type AuthDetails = z.infer<typeof authDetailsSchema>;

export const attachmentSchema = z.object({ filename: z.string().nullable(), contentType: z.string(), size: z.number() });

export const messageDetailSchema = messageItemSchema.extend({
	authDetails: authDetailsSchema,
	forwardingEvidence: z.array(z.string()),
	encodingFindings: z.array(z.string()),
	headers: z.string(),
	text: z.string().nullable(),
	html: z.string().nullable(),
	attachments: z.array(attachmentSchema),
	/** SPEC §16: on a bounce, the reply it reported on (null when it named none of ours; absent on other kinds). */
	bounceFor: z.object({ outboundId: z.string(), subject: z.string() }).nullable().optional()
});
export type MessageDetail = z.infer<typeof messageDetailSchema>;

const verdictCounts = z.object({ accepted: z.number(), quarantined: z.number(), rejected: z.number() });
export type VerdictCounts = z.infer<typeof verdictCounts>;
/**
 * SPEC §15: `limitDeferred` counts replies a provider's limit answer deferred (apart from failures:
 * they leave by themselves); absent from an older Worker's answer.
 */
const outboundCounts = z.object({ sent: z.number(), failed: z.number(), bounced: z.number(), limitDeferred: z.number().default(0) });
export type OutboundCounts = z.infer<typeof outboundCounts>;

/** `GET /api/mailbox-health`: one item per mailbox with mail in 30 days; `mailboxId: null` gathers refused unknown recipients. */
export const mailboxHealthSchema = z.object({
	mailboxId: z.string().nullable(),
	last24h: verdictCounts,
	last30d: verdictCounts,
	topRejection: z.object({ reason: z.string(), count: z.number() }).nullable(),
	lastReceivedAt: z.string().nullable(),
	/** SPEC §10: replies sent, failed and bounced (optional: an older Worker leaves it out). */
	outbound: z
		.object({ last24h: outboundCounts, last30d: outboundCounts, lastSentAt: z.string().nullable() })
		.optional()
});
export type MailboxHealth = z.infer<typeof mailboxHealthSchema>;
export const mailboxHealthListSchema = z.object({ items: z.array(mailboxHealthSchema), since: z.string() });

/** `GET /api/messages/garbled-senders`: who sent garbled mail in the last 30 days, most first. */
export const garbledSenderSchema = z.object({
	sender: z.string(),
	count: z.number(),
	lastReceivedAt: z.string(),
	charsets: z.array(z.string())
});
export type GarbledSender = z.infer<typeof garbledSenderSchema>;
export const garbledSendersSchema = z.object({ items: z.array(garbledSenderSchema), since: z.string() });

/** The log's filters, as the page keeps them in its URL and the API takes them. */
export interface MessageFilters {
	mailboxId?: string;
	verdict?: Verdict;
	/** SPEC §16: one kind of mail; every kind when absent. */
	kind?: MessageKind;
	from?: string;
	messageId?: string;
	since?: string;
	until?: string;
}

export const filterKeys = ['mailboxId', 'verdict', 'kind', 'from', 'messageId', 'since', 'until'] as const satisfies readonly (keyof MessageFilters)[];

/** RFC 5322 §3.6.4: the id without its angle brackets, as admins paste it either way. */
export function normaliseMessageId(value: string | undefined | null): string | null {
	const trimmed = (value ?? '').trim().replace(/^<|>$/g, '').trim();
	return trimmed || null;
}

/** Trimmed, empty values dropped, the Message-ID without its angle brackets (as the log stores it), in `filterKeys` order. */
export function normaliseFilters(filters: MessageFilters): MessageFilters {
	const clean: MessageFilters = {};
	for (const key of filterKeys) {
		const value = key === 'messageId' ? normaliseMessageId(filters[key]) : filters[key]?.trim();
		if (value) (clean as Record<string, string>)[key] = value;
	}
	return clean;
}

/**
 * A file name every system accepts: the safe characters of `value`, at most 100 of them. The
 * Worker names `<Message-ID>.eml` with it and the app `<Message-ID>-headers.txt`.
 */
export function safeFileName(value: string): string {
	const safe = value.replace(/[^A-Za-z0-9._@+-]/g, '_').replace(/^[.]+/, '').slice(0, 100);
	return safe || 'message';
}
