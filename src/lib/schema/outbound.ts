/**
 * Outbound mail (SPEC §10): the request a help desk sends to reply as a mailbox, and the
 * outbound item the API, the queue consumer and the Sent mail page all read. One schema,
 * shared by the Worker and the app.
 */
import { z } from 'zod';
import { checkServiceAddress } from './address';
import { idSchema, timestampSchema } from './fields';
import { parseMessageId } from './message-id';
import { sendOutcomeSchema } from './send-outcome';

/** SPEC §10: 1-50 recipients in all (To, Cc and Bcc together). */
export const MAX_RECIPIENTS = 50;
/** RFC 5322 §2.1.1: a line is at most 998 characters; a subject is one (unfolded) line. */
export const MAX_SUBJECT_LENGTH = 998;
/** SPEC §10: the encoded message may be up to 20 MiB. */
export const MAX_OUTBOUND_MESSAGE_BYTES = 20 * 1024 * 1024;
/** SPEC §10: this route's request body limit (base64 attachments inflate by a third). */
export const MAX_OUTBOUND_BODY_BYTES = 28 * 1024 * 1024;
/** SPEC §10: up to 20 string pairs the help desk wants back later. */
export const MAX_METADATA_PAIRS = 20;
export const MAX_METADATA_KEY_LENGTH = 40;
export const MAX_METADATA_VALUE_LENGTH = 500;
/** A file name longer than this is not one a mail client shows. */
export const MAX_FILENAME_LENGTH = 255;

export const outboundStatusValues = ['queued', 'sending', 'sent', 'deferred', 'failed', 'bounced'] as const;
export type OutboundStatus = (typeof outboundStatusValues)[number];

export const outboundStatusLabels: Record<OutboundStatus, string> = {
	queued: 'Queued',
	sending: 'Sending',
	sent: 'Sent',
	deferred: 'Will retry',
	failed: 'Failed',
	bounced: 'Bounced'
};

/** Statuses the app offers Retry for: never retried by themselves (SPEC §10). */
export const retryableStatuses: readonly OutboundStatus[] = ['failed', 'bounced'];
/** Statuses the app offers Send now for: waiting for a retry by itself (SPEC §16 "Waiting work can be pushed"). */
export const sendNowStatuses: readonly OutboundStatus[] = ['deferred'];
/** Statuses `POST /api/outbound/:id/retry` accepts, queued again at once (409 otherwise). */
export const requeueableStatuses: readonly OutboundStatus[] = [...retryableStatuses, ...sendNowStatuses];

const recipientSchema = z
	.string({ error: 'Each recipient is an email address' })
	.trim()
	.superRefine((value, ctx) => {
		// Recipients are customers: any single plain address, sub-addresses included.
		if (checkServiceAddress(value.replace(/\+[^@]*@/, '@'))) {
			ctx.addIssue({ code: 'custom', message: `Enter a plain email address, like customer@example.com` });
		}
	});

const recipientList = z.array(recipientSchema, { error: 'A list of email addresses' });

// eslint-disable-next-line no-control-regex
const LINE_BREAK = /[\r\n\u0000]/;

/** A logged message's id (crypto.randomUUID, 8-4-4-4-12 hex digits), as `inReplyTo` may name it (SPEC §10). */
export function isLogId(value: string): boolean {
	return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}

const base64Schema = z
	.string({ error: 'The content is base64 text' })
	.regex(/^[A-Za-z0-9+/\s]*={0,2}\s*$/, { error: 'The content is not valid base64' });

export const outboundAttachmentSchema = z.object({
	filename: z
		.string({ error: 'Enter the file name' })
		.trim()
		.min(1, { error: 'Enter the file name' })
		.max(MAX_FILENAME_LENGTH, { error: `A file name is at most ${MAX_FILENAME_LENGTH} characters` })
		.refine((value) => !LINE_BREAK.test(value) && !/[/\\]/.test(value), { error: 'A file name cannot contain line breaks or slashes' }),
	contentType: z
		.string({ error: 'Enter the content type' })
		.trim()
		.regex(/^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*$/, {
			error: 'A content type looks like application/pdf'
		}),
	content: base64Schema
});

const metadataSchema = z
	.record(
		z
			.string()
			.min(1, { error: 'A metadata key is not empty' })
			.max(MAX_METADATA_KEY_LENGTH, { error: `A metadata key is at most ${MAX_METADATA_KEY_LENGTH} characters` }),
		z.string({ error: 'Metadata values are text' }).max(MAX_METADATA_VALUE_LENGTH, {
			error: `A metadata value is at most ${MAX_METADATA_VALUE_LENGTH} characters`
		}),
		{ error: 'Metadata is an object of text values' }
	)
	.refine((value) => Object.keys(value).length <= MAX_METADATA_PAIRS, {
		error: `At most ${MAX_METADATA_PAIRS} metadata pairs`
	});

/** Every field of `POST /api/mailboxes/:id/outbound` (SPEC §10), before the cross-field rules. */
const outboundFieldsSchema = z.object({
		id: idSchema.optional(),
		to: recipientList.min(1, { error: 'Add at least one recipient' }),
		cc: recipientList.optional(),
		bcc: recipientList.optional(),
		subject: z
			.string({ error: 'The subject is text' })
			.trim()
			.min(1, { error: 'Enter a subject' })
			.max(MAX_SUBJECT_LENGTH, { error: `The subject is at most ${MAX_SUBJECT_LENGTH} characters` })
			.refine((value) => !LINE_BREAK.test(value), { error: 'The subject is one line (no line breaks)' })
			.optional(),
		text: z.string({ error: 'Enter the text of the message' }).min(1, { error: 'Enter the text of the message' }),
		html: z.string({ error: 'The HTML is text' }).optional(),
		inReplyTo: z
			.string({ error: 'A Message-ID or the id of a logged message' })
			.trim()
			.min(1, { error: 'A Message-ID or the id of a logged message' })
			.max(998, { error: 'A Message-ID is at most 998 characters' })
			// Issue 18: it becomes the reply's In-Reply-To and References, so only a msg-id
			// (RFC 5322 §3.6.4: printable ASCII, no spaces or line breaks) or a log id is taken.
			.refine((value) => isLogId(value) || parseMessageId(value) !== null, {
				error: 'Give one Message-ID, like <abc@example.com> (no spaces or line breaks), or the id of a logged message'
			})
			.optional(),
		attachments: z.array(outboundAttachmentSchema, { error: 'A list of attachments' }).max(100, { error: 'At most 100 attachments' }).optional(),
		metadata: metadataSchema.optional()
	});

/** `POST /api/mailboxes/:id/outbound` (SPEC §10). */
export const outboundRequestSchema = outboundFieldsSchema.superRefine((value, ctx) => {
		const total = value.to.length + (value.cc?.length ?? 0) + (value.bcc?.length ?? 0);
		if (total > MAX_RECIPIENTS) {
			ctx.addIssue({ code: 'custom', path: ['to'], message: `At most ${MAX_RECIPIENTS} recipients in all (To, Cc and Bcc)` });
		}
	});
export type OutboundRequest = z.infer<typeof outboundRequestSchema>;

/** The reply written on an inbound message's page (SPEC §10 "In the app"): plain text. */
export const replyDraftSchema = outboundFieldsSchema.pick({ id: true, to: true, subject: true, text: true, inReplyTo: true });

/**
 * One delivery attempt (SPEC §10), classified and explained like the SMTP sending test
 * (send-outcome.ts: `temporary` says it is retried by itself, `transcript` is this attempt's).
 */
export const outboundAttemptSchema = sendOutcomeSchema.extend({
	at: timestampSchema
});
export type OutboundAttempt = z.infer<typeof outboundAttemptSchema>;

/** A recipient the server refused while it accepted others (SPEC §10). */
export const refusedRecipientSchema = z.object({
	address: z.string(),
	code: z.number().int().optional(),
	enhancedCode: z.string().optional(),
	serverMessage: z.string().optional(),
	hint: z.string()
});
export type RefusedRecipient = z.infer<typeof refusedRecipientSchema>;

/** One recipient of a delivery status notification (RFC 3464 §2.3). */
export const bounceRecipientSchema = z.object({
	finalRecipient: z.string().nullable(),
	action: z.string().nullable(),
	status: z.string().nullable(),
	diagnosticCode: z.string().nullable(),
	remoteMta: z.string().nullable(),
	hint: z.string()
});
export type BounceRecipient = z.infer<typeof bounceRecipientSchema>;

export const outboundBounceSchema = z.object({
	at: timestampSchema,
	/** The bounce's own row in the email log. */
	logId: z.string(),
	reportingMta: z.string().nullable(),
	recipients: z.array(bounceRecipientSchema)
});
export type OutboundBounce = z.infer<typeof outboundBounceSchema>;

/** A delay notice (`Action: delayed`): the remote server is still trying. Not a bounce. */
export const outboundWarningSchema = z.object({
	at: timestampSchema,
	logId: z.string(),
	recipient: z.string().nullable(),
	status: z.string().nullable(),
	text: z.string()
});

/** Why a bounce report named a reply and changed nothing (issue 18: anyone can write a report). */
export const unverifiedBounceReasonValues = [
	/** Only the report's own In-Reply-To/References named the reply, not the returned message or Original-Message-ID. */
	'thread-only',
	/** The recipients it says failed were never recipients of this reply. */
	'not-a-recipient',
	/** It named no recipient at all. */
	'no-recipient'
] as const;

/**
 * A bounce report that named this reply but could not be verified (SPEC §10 "Bounces"): kept
 * with its words so the admin sees it, while the reply's status stays as it was and the help
 * desk is told nothing. Recipients are as the report wrote them.
 */
export const unverifiedBounceSchema = z.object({
	at: timestampSchema,
	/** The report's own row in the email log. */
	logId: z.string(),
	reason: z.enum(unverifiedBounceReasonValues),
	reportingMta: z.string().nullable(),
	recipients: z.array(bounceRecipientSchema)
});
export type UnverifiedBounce = z.infer<typeof unverifiedBounceSchema>;

export const outboundItemSchema = z.object({
	id: z.string(),
	mailboxId: z.string().nullable(),
	messageId: z.string(),
	status: z.enum(outboundStatusValues),
	from: z.object({ name: z.string(), address: z.string() }),
	to: z.array(z.string()),
	cc: z.array(z.string()),
	bcc: z.array(z.string()),
	subject: z.string(),
	inReplyTo: z.string().nullable(),
	createdAt: timestampSchema,
	sentAt: timestampSchema.nullable(),
	nextAttemptAt: timestampSchema.nullable(),
	attempts: z.array(outboundAttemptSchema),
	refused: z.array(refusedRecipientSchema),
	bounce: outboundBounceSchema.nullable(),
	warnings: z.array(outboundWarningSchema),
	/** Added after the first release: an item stored or cached before it has none. */
	unverifiedReports: z.array(unverifiedBounceSchema).default([]),
	metadata: z.record(z.string(), z.string()),
	size: z.number()
});
export type OutboundItem = z.infer<typeof outboundItemSchema>;

export const outboundDetailSchema = outboundItemSchema.extend({
	text: z.string(),
	html: z.string().nullable(),
	/** The header block as composed (and sent). */
	headers: z.string(),
	attachments: z.array(z.object({ filename: z.string(), contentType: z.string(), size: z.number() }))
});
export type OutboundDetail = z.infer<typeof outboundDetailSchema>;

export const outboundPageSchema = z.object({ items: z.array(outboundItemSchema), nextCursor: z.string().nullable() });
export type OutboundPage = z.infer<typeof outboundPageSchema>;

/** The Sent mail page's filters, kept in its URL and taken by `GET /api/outbound`. */
export interface OutboundFilters {
	mailboxId?: string;
	status?: OutboundStatus;
	/** The replies to one logged message (the message page's list, SPEC §16); not a Sent mail filter. */
	replyToLogId?: string;
}
export const outboundFilterKeys = ['mailboxId', 'status'] as const satisfies readonly (keyof OutboundFilters)[];

/** `GET /api/outbound`'s query (SPEC §10 "Read it"). */
export const outboundListQuerySchema = z.object({
	mailboxId: z.string().min(1).max(100).optional(),
	status: z.enum(outboundStatusValues, { error: `Use ${outboundStatusValues.join(', ')}` }).optional(),
	replyToLogId: z
		.string()
		.refine(isLogId, { error: 'The id of a logged message (as GET /api/messages gives it)' })
		.transform((value) => value.toLowerCase())
		.optional(),
	cursor: z.string().max(200).optional()
});
