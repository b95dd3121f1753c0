/**
 * What sending as a mailbox came to, written once (SPEC §4, §10, §13): the SMTP test's result,
 * a reply's delivery attempt and the mail flow check's probe all extend this schema, so the
 * stage, the category, the server's codes and words and the hint read the same everywhere.
 * It imports nothing but zod, so every schema file may extend it without a cycle.
 */
import { z } from 'zod';

/**
 * SPEC §4: the stages of a send, in the order a STARTTLS session meets them; SPEC §14: an API
 * send (Microsoft Graph, the Gmail API) has two, `token` (getting the access token) and `send`.
 */
export const smtpStageValues = ['connect', 'tls', 'greeting', 'ehlo', 'auth', 'mail', 'rcpt', 'data', 'token', 'send'] as const;
export type SmtpStage = (typeof smtpStageValues)[number];

/** SPEC §4: what kind of problem a failed send found. */
export const smtpCategoryValues = ['auth', 'tls', 'connection', 'timeout', 'rejected', 'config'] as const;
export type SmtpCategory = (typeof smtpCategoryValues)[number];

/** SPEC §15: the kinds of provider limit: sessions at once, messages a minute, a daily quota. */
export const providerLimitKindValues = ['concurrency', 'rate', 'daily'] as const;
/** SPEC §15: a provider's limit answer, and how long the mailbox waits for it (Retry-After, else a minute or an hour). */
export const providerLimitSchema = z.object({
	kind: z.enum(providerLimitKindValues),
	retryAfterSeconds: z.number().int().nonnegative()
});
export type ProviderLimit = z.infer<typeof providerLimitSchema>;

export const sendOutcomeSchema = z.object({
	ok: z.boolean(),
	/** Where the send stopped, or `data` when it went through. */
	stage: z.enum(smtpStageValues),
	/** Null when it went through. */
	category: z.enum(smtpCategoryValues).nullable(),
	/** The server's reply code and RFC 3463 enhanced status code, when a reply said why. */
	code: z.number().int().optional(),
	enhancedCode: z.string().optional(),
	/** What the server said, verbatim; a local failure is described in the hint instead (issue 19). */
	serverMessage: z.string().optional(),
	/** SPEC §14: the provider's id of the sent message (the Gmail API's `id`). */
	providerMessageId: z.string().optional(),
	hint: z.string(),
	durationMs: z.number(),
	/** Worth trying again later by itself (replies record it). */
	temporary: z.boolean().optional(),
	/** The message data went out and no answer was recorded: it may have been delivered. */
	mayHaveArrived: z.boolean().optional(),
	/** The dialogue, every secret redacted (the SMTP test and replies record it). */
	transcript: z.array(z.string()).optional(),
	/** SPEC §15: the provider answered with a limit (temporary whatever the reply's first digit). */
	limit: providerLimitSchema.optional()
});
export type SendOutcomePayload = z.infer<typeof sendOutcomeSchema>;
