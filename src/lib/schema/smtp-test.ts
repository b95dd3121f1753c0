import { z } from 'zod';
import { checkServiceAddress } from './address';
import { smtpSettingsSchema } from './mailbox';
import { timestampSchema } from './fields';
import { sendOutcomeSchema, smtpCategoryValues, smtpStageValues, type SmtpCategory, type SmtpStage } from './send-outcome';

// The stages and categories are every send's (send-outcome.ts); their readers know them from here too.
export { smtpCategoryValues, smtpStageValues, type SmtpCategory, type SmtpStage };

export const smtpStageLabels: Record<SmtpStage, string> = {
	connect: 'Connect',
	tls: 'Secure connection (TLS)',
	greeting: 'Server greeting',
	ehlo: 'Introduce (EHLO)',
	auth: 'Log in',
	mail: 'Sender (MAIL FROM)',
	rcpt: 'Recipient (RCPT TO)',
	data: 'Message (DATA)',
	token: 'Access token',
	send: 'Send (API)'
};

export const smtpCategoryLabels: Record<SmtpCategory, string> = {
	auth: 'Account or password',
	tls: 'Encryption (SSL/TLS)',
	connection: 'Connection',
	timeout: 'No answer',
	rejected: 'Refused by the server',
	config: 'Settings'
};

const recipientSchema = z
	.string({ error: 'Enter the address to send the test message to' })
	.trim()
	.superRefine((value, ctx) => {
		// The test recipient may be any single address, aliases included.
		const problem = checkServiceAddress(value.replace(/\+[^@]*@/, '@'));
		if (problem) ctx.addIssue({ code: 'custom', message: 'Enter one email address to send the test message to' });
	});

/** `POST /api/mailboxes/:id/smtp-test`: the saved settings, to an address of the admin's choice. */
export const savedSmtpTestRequestSchema = z.object({ to: recipientSchema.optional() });

/**
 * `POST /api/smtp-test`: the unsaved settings on the form. With `mailboxId`, an empty
 * password means the one stored for that mailbox.
 */
export const draftSmtpTestRequestSchema = z.object({
	smtp: smtpSettingsSchema,
	to: recipientSchema,
	mailboxId: z.string().min(1).max(100).optional()
});

export const smtpTestStepSchema = z.object({
	stage: z.enum(smtpStageValues),
	ok: z.boolean(),
	durationMs: z.number()
});

/** SPEC §4 and §7: the result of one sending test. */
export const smtpTestResultSchema = sendOutcomeSchema.extend({
	id: z.string(),
	mailboxId: z.string().nullable(),
	/** Which settings were tested: the saved ones, or the unsaved ones on the form. */
	settings: z.enum(['saved', 'form']),
	/** The test always shows its dialogue. */
	transcript: z.array(z.string()),
	steps: z.array(smtpTestStepSchema),
	to: z.string(),
	at: timestampSchema,
	/**
	 * Issue 19: a passing test of a new mailbox's unsaved settings. Sent back with the create
	 * (`smtpTestReceipt`), it keeps the test with the mailbox saved with those settings.
	 */
	receipt: z.string().optional()
});

export type SmtpTestStep = z.infer<typeof smtpTestStepSchema>;
export type SmtpTestResult = z.infer<typeof smtpTestResultSchema>;
export type DraftSmtpTestRequest = z.infer<typeof draftSmtpTestRequestSchema>;
