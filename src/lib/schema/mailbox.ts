import { z } from 'zod';
import { checkServiceAddress } from './address';
import { checkServerAddress } from './host';
import { idSchema, requiredText, timestampSchema, versionSchema } from './fields';
import { flowCheckSummarySchema } from './flow-check';

import { canonicalHost, isLoopbackHost } from './private-host';

/** SPEC §3 limits. */
export const MAX_MAILBOX_NAME_LENGTH = 100;
export const MAX_DESCRIPTION_LENGTH = 500;
/** RFC 4954 allows long SASL strings; a password longer than this is a paste mistake. */
export const MAX_PASSWORD_LENGTH = 1024;
/** RFC 5321 §4.5.3.1.3 path length; SMTP logins are usually addresses. */
export const MAX_USERNAME_LENGTH = 320;

/** SPEC §3, verbatim: the reason port 25 is refused. */
export const PORT_25_MESSAGE =
	'port 25 is blocked for security reasons; use 587 with STARTTLS or 465 with SSL/TLS';
/**
 * A stored password goes only to the server it was entered for: a changed Server address, Port,
 * Account or Encryption needs it typed again (issue 18).
 */
export const PASSWORD_AGAIN_MESSAGE = 'Enter the password again: a stored password is only sent to the server it was entered for';

/** The settings a stored password is bound to, as one comparable value (host compared as DNS does: case-insensitively). */
export function smtpServerKey(smtp: { host: string; port: number; username: string; encryption: Encryption }): string {
	const host = smtp.host.trim().toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
	return JSON.stringify([host, smtp.port, smtp.username, smtp.encryption]);
}

/** Whether two SMTP settings name the same server and account, so a stored password may go to `b`. */
export function sameSmtpServer(
	a: { host: string; port: number; username: string; encryption: Encryption },
	b: { host: string; port: number; username: string; encryption: Encryption }
): boolean {
	return smtpServerKey(a) === smtpServerKey(b);
}

export const encryptionValues = ['tls', 'starttls', 'none'] as const;
export type Encryption = (typeof encryptionValues)[number];
/** The labels the form shows for each encryption value (SPEC §3). */
export const encryptionLabels: Record<Encryption, string> = {
	tls: 'SSL/TLS',
	starttls: 'STARTTLS',
	none: 'None'
};
/** The port each encryption setting usually goes with. */
export const usualPort: Partial<Record<Encryption, number>> = { tls: 465, starttls: 587 };

export const manualForwardValues = ['reject', 'accept'] as const;

/** SPEC §12: how the mailbox signs in to its SMTP server. */
export const smtpAuthValues = ['password', 'oauth2'] as const;
export type SmtpAuth = (typeof smtpAuthValues)[number];
export const oauthProviderValues = ['microsoft', 'google'] as const;
export type OAuthProvider = (typeof oauthProviderValues)[number];
/** The Sign-in method's labels (SPEC §12), also the provider's name in hints and buttons. */
export const oauthProviderLabels: Record<OAuthProvider, string> = { microsoft: 'Microsoft 365', google: 'Google' };
/**
 * SPEC §12: each provider's SMTP submission server, filled in when the provider is chosen (the
 * admin may change them): Microsoft 365 submits on 587 with STARTTLS, Gmail on 465 with SSL/TLS.
 */
export const oauthProviderServers: Record<OAuthProvider, { host: string; port: number; encryption: Encryption }> = {
	microsoft: { host: 'smtp.office365.com', port: 587, encryption: 'starttls' },
	google: { host: 'smtp.gmail.com', port: 465, encryption: 'tls' }
};
/**
 * Issue 18: the only SMTP hosts an OAuth access token is sent to, each provider's own submission
 * servers (Microsoft's worldwide, consumer, US Government (GCC High) and 21Vianet clouds), and
 * only over STARTTLS or SSL/TLS. Loopback stands in for them on a local setup (ALLOW_PRIVATE_SMTP_HOSTS).
 */
export const oauthProviderSmtpHosts: Record<OAuthProvider, readonly string[]> = {
	microsoft: ['smtp.office365.com', 'smtp-mail.outlook.com', 'smtp.office365.us', 'smtp.partner.outlook.cn'],
	google: ['smtp.gmail.com']
};

/** Why an OAuth token may not go to this server (words for Server address), or null when it may. */
export function oauthServerProblem(
	server: { host: string; encryption: Encryption; provider: OAuthProvider },
	options: { allowLoopback: boolean }
): string | null {
	const hosts = oauthProviderSmtpHosts[server.provider];
	const name = canonicalHost(server.host)?.replace(/\.$/, '') ?? '';
	if (options.allowLoopback && isLoopbackHost(server.host)) return null;
	const named = hosts.length > 1 ? `${hosts.slice(0, -1).join(', ')} or ${hosts.at(-1)}` : hosts[0];
	const where = `${oauthProviderLabels[server.provider]}'s sign-in is only sent to ${named}, with STARTTLS or SSL/TLS`;
	if (!hosts.includes(name)) return `${where}: set Server address to ${oauthProviderServers[server.provider].host}`;
	if (server.encryption === 'none') return `${where}: set Encryption to ${encryptionLabels[oauthProviderServers[server.provider].encryption]}`;
	return null;
}

/**
 * SPEC §14: how an OAuth mailbox's mail leaves: its provider's SMTP server (XOAUTH2), or the
 * provider's HTTPS sending API (Microsoft Graph `sendMail`, the Gmail API's `messages.send`).
 */
export const sendViaValues = ['smtp', 'api'] as const;
export type SendVia = (typeof sendViaValues)[number];
/** The form's **Send through** choices for a provider (SPEC §14). */
export function sendViaLabels(provider: OAuthProvider): Record<SendVia, string> {
	return { smtp: 'SMTP server', api: provider === 'microsoft' ? 'Microsoft Graph API' : 'Gmail API' };
}
/** SPEC §14, verbatim: the API is reached with the provider's sign-in only. */
export const SEND_VIA_NEEDS_OAUTH_MESSAGE = "Sending through the provider's API needs Sign-in with Microsoft 365 or Google";

/** The state of a mailbox's OAuth sign-in: working, refused by the provider, or never made. */
export const oauthStatusValues = ['connected', 'reconnect', 'not_connected'] as const;
export type OAuthStatus = (typeof oauthStatusValues)[number];

/**
 * SPEC §15: the admin's overrides of the provider's limits, per mailbox. Ten sessions at once
 * is more than any known provider allows one mailbox (Microsoft 365 3, Graph 4, Google 2); 600
 * a minute (10 a second) is beyond what one mailbox is ever allowed to send.
 */
export const MAX_CONCURRENT_SESSIONS = 10;
export const MAX_MESSAGES_PER_MINUTE = 600;
const concurrentMessage = `Concurrent sessions is a whole number from 1 to ${MAX_CONCURRENT_SESSIONS}`;
const perMinuteMessage = `Messages a minute is a whole number from 1 to ${MAX_MESSAGES_PER_MINUTE}`;
const limitNumber = (message: string, max: number) =>
	z.number({ error: message }).int({ error: message }).min(1, { error: message }).max(max, { error: message });
export const smtpLimitsSchema = z.object(
	{
		concurrent: limitNumber(concurrentMessage, MAX_CONCURRENT_SESSIONS).optional(),
		perMinute: limitNumber(perMinuteMessage, MAX_MESSAGES_PER_MINUTE).optional()
	},
	{ error: 'Sending limits are concurrent sessions and messages a minute' }
);
export type SmtpLimits = z.infer<typeof smtpLimitsSchema>;

/**
 * SPEC §15: each provider's limits for one mailbox (the README cites the sources): Microsoft 365
 * 3 SMTP sessions at once and 30 messages a minute, Graph 4 requests at once; Google 2 sessions,
 * no per-minute rate (a daily quota); another server 2 sessions, no rate. `perMinute` null: none.
 */
export function providerSendingLimits(smtp: { host: string; auth?: SmtpAuth; oauth?: { provider: OAuthProvider } | null; sendVia?: SendVia }): {
	concurrent: number;
	perMinute: number | null;
} {
	const host = smtp.host.trim().toLowerCase().replace(/\.$/, '');
	const provider =
		(smtp.auth === 'oauth2' ? smtp.oauth?.provider : undefined) ??
		oauthProviderValues.find((candidate) => oauthProviderSmtpHosts[candidate].includes(host));
	if (provider === 'microsoft') return { concurrent: smtp.sendVia === 'api' && smtp.auth === 'oauth2' ? 4 : 3, perMinute: 30 };
	return { concurrent: 2, perMinute: null };
}

/** Limits with nothing set are the provider's defaults: stored as null. */
export function storedLimits(limits: SmtpLimits | null | undefined): SmtpLimits | null {
	if (!limits) return null;
	const { concurrent, perMinute } = limits;
	if (concurrent === undefined && perMinute === undefined) return null;
	return { ...(concurrent === undefined ? {} : { concurrent }), ...(perMinute === undefined ? {} : { perMinute }) };
}

const portMessage = 'The port is a whole number from 1 to 65535';
export const portSchema = z
	.number({ error: (issue) => (issue.input === undefined ? 'Enter the port' : portMessage) })
	.int({ error: portMessage })
	.min(1, { error: portMessage })
	.max(65535, { error: portMessage })
	.refine((port) => port !== 25, { error: PORT_25_MESSAGE });

const hostSchema = z
	.string({ error: 'Enter the SMTP server address' })
	.trim()
	.superRefine((value, ctx) => {
		const problem = checkServerAddress(value);
		if (problem) ctx.addIssue({ code: 'custom', message: problem });
	});

const addressSchema = z
	.string({ error: 'Enter the service email address' })
	.trim()
	.superRefine((value, ctx) => {
		const problem = checkServiceAddress(value);
		if (problem) ctx.addIssue({ code: 'custom', message: problem });
	});

const passwordSchema = z
	.string({ error: 'The password must be text' })
	.max(MAX_PASSWORD_LENGTH, { error: `The password is at most ${MAX_PASSWORD_LENGTH} characters` });

const providerMessage = 'Choose Microsoft 365 or Google';
const smtpAuthSchema = z.enum(smtpAuthValues, { error: 'Choose Password, Microsoft 365 or Google' });
/** The OAuth provider chosen as Sign-in method; the connection itself is made by signing in. */
const oauthChoiceSchema = z.object(
	{ provider: z.enum(oauthProviderValues, { error: providerMessage }) },
	{ error: providerMessage }
);

/**
 * SMTP settings as the admin enters them. An empty password means "keep the stored one".
 * `auth` absent means a password (mailboxes saved before SPEC §12, and an update that does not
 * change it); with `oauth2` no password is kept and `oauth.provider` names the provider.
 * `sendVia` absent means `smtp` on create and "unchanged" on an update (SPEC §14).
 */
const smtpSettingsObject = z.object(
	{
	host: hostSchema,
	port: portSchema,
	username: requiredText({ what: 'SMTP account', label: 'The account', max: MAX_USERNAME_LENGTH }),
	password: passwordSchema.optional(),
	encryption: z.enum(encryptionValues, { error: 'Choose SSL/TLS, STARTTLS or None' }),
	auth: smtpAuthSchema.optional(),
	oauth: oauthChoiceSchema.nullable().optional(),
	sendVia: z.enum(sendViaValues, { error: "Choose SMTP server or the provider's API" }).optional(),
	/** SPEC §15: absent keeps what is stored (an update), null or {} the provider's defaults. */
	limits: smtpLimitsSchema.nullable().optional()
	},
	{ error: 'Enter the SMTP sending settings' }
);

/**
 * SPEC §14: with `sendVia: "api"` the server, port and encryption are not needed; left out, they
 * become the provider's SMTP server (`oauthProviderServers`), so a mailbox always has a complete
 * SMTP setting to switch back to (and its columns stay NOT NULL). They are not used to send.
 */
function withApiServer(input: unknown): unknown {
	if (!input || typeof input !== 'object') return input;
	const smtp = input as Record<string, unknown>;
	const provider = (smtp.oauth as { provider?: unknown } | null | undefined)?.provider;
	if (smtp.sendVia !== 'api' || smtp.auth !== 'oauth2' || (provider !== 'microsoft' && provider !== 'google')) return input;
	const server = oauthProviderServers[provider];
	const absent = (value: unknown) => value === undefined || value === null || value === '';
	return {
		...smtp,
		host: absent(smtp.host) ? server.host : smtp.host,
		port: absent(smtp.port) ? server.port : smtp.port,
		encryption: absent(smtp.encryption) ? server.encryption : smtp.encryption
	};
}

/** The SMTP settings of a new mailbox or of a sending test (an API mailbox's server filled in, above). */
export const smtpSettingsSchema = z.preprocess(withApiServer, smtpSettingsObject);
export type SmtpSettingsInput = z.infer<typeof smtpSettingsSchema>;

/**
 * The rules between the sign-in fields (SPEC §12): OAuth names its provider; a password sign-in
 * needs a password when none is stored (`passwordRequired`). SPEC §14: only an OAuth sign-in may
 * send through the provider's API.
 */
export function checkSignIn(
	smtp: Pick<SmtpSettingsInput, 'auth' | 'oauth' | 'password' | 'sendVia'>,
	addIssue: (issue: { path: string[]; message: string }) => void,
	options: { passwordRequired: boolean }
): void {
	if (smtp.sendVia === 'api' && smtp.auth !== 'oauth2') addIssue({ path: ['smtp', 'sendVia'], message: SEND_VIA_NEEDS_OAUTH_MESSAGE });
	if (smtp.auth === 'oauth2') {
		if (!smtp.oauth?.provider) addIssue({ path: ['smtp', 'oauth', 'provider'], message: providerMessage });
		return;
	}
	if (options.passwordRequired && !smtp.password) addIssue({ path: ['smtp', 'password'], message: 'Enter the SMTP password' });
}

const descriptionSchema = z
	.string({ error: 'The description must be text' })
	.trim()
	.max(MAX_DESCRIPTION_LENGTH, { error: `The description is at most ${MAX_DESCRIPTION_LENGTH} characters` });
const manualForwardSchema = z.enum(manualForwardValues, { error: 'Choose reject or accept' });

/** Every mailbox field, without defaults (an update must not reset what it does not name). */
const mailboxFieldsBase = z.object({
	integrationId: z
		.string({ error: 'Choose a channel integration' })
		.min(1, { error: 'Choose a channel integration' }),
	name: requiredText({ what: 'mailbox name', label: 'The mailbox name', max: MAX_MAILBOX_NAME_LENGTH }),
	description: descriptionSchema,
	address: addressSchema,
	smtp: smtpSettingsSchema,
	manualForward: manualForwardSchema
});

/** Every mailbox field the admin edits (SPEC §3 and §7). */
export const mailboxFieldsSchema = mailboxFieldsBase.extend({
	description: descriptionSchema.default(''),
	manualForward: manualForwardSchema.default('reject')
});

/** `POST /api/mailboxes`: the password is required on create, unless the mailbox signs in with OAuth. */
export const mailboxCreateSchema = mailboxFieldsSchema.extend({ id: idSchema.optional() }).superRefine((mailbox, ctx) =>
	checkSignIn(mailbox.smtp, (issue) => ctx.addIssue({ code: 'custom', ...issue }), { passwordRequired: true })
);

/** `PATCH /api/mailboxes/:id`: any subset of the fields, plus the version being edited. */
export const mailboxUpdateSchema = mailboxFieldsBase
	.extend({ smtp: smtpSettingsObject.partial() })
	.partial()
	.extend({ version: versionSchema });

/** The latest SMTP sending test shown with a mailbox (filled in by the SMTP test). */
export const smtpTestSummarySchema = z.object({
	ok: z.boolean(),
	stage: z.string(),
	category: z.string().nullable(),
	/** Whether the saved settings or unsaved ones on the form were tested. */
	settings: z.enum(['saved', 'form']).optional(),
	at: timestampSchema
});

/**
 * SPEC §12: a mailbox's OAuth sign-in as the API shows it, never a token. `account` is who signed
 * in; `reconnect` means sign in again: the provider withdrew the access, the Account changed, or
 * (SPEC §14, `scopeMissing`) the grant lacks the scope the mailbox's Send through needs (the
 * other method was consented to). Copies kept before SPEC §14 read `scopeMissing: false`.
 */
export const oauthConnectionSchema = z.object({
	provider: z.enum(oauthProviderValues),
	account: z.string().nullable(),
	connectedAt: timestampSchema.nullable(),
	status: z.enum(oauthStatusValues),
	scopeMissing: z.boolean().default(false)
});

/**
 * A mailbox as the API returns it: the password is replaced by `hasPassword`, the OAuth choice
 * by the connection's state. Copies kept before SPEC §12 read as password sign-ins.
 */
export const mailboxSchema = mailboxFieldsSchema.extend({
	id: z.string(),
	version: z.number().int(),
	smtp: smtpSettingsObject.omit({ password: true, auth: true, oauth: true, sendVia: true }).extend({
		hasPassword: z.boolean(),
		auth: smtpAuthSchema.default('password'),
		/** Copies kept before SPEC §14 sent by SMTP. */
		sendVia: z.enum(sendViaValues).default('smtp'),
		oauth: oauthConnectionSchema.nullable().default(null),
		/** SPEC §15: null is the provider's defaults; copies kept before it had none. */
		limits: smtpLimitsSchema.nullable().default(null),
		/** SPEC §15: the mailbox waits for its provider's limit until then (a time past means it no longer waits). */
		pausedUntil: timestampSchema.nullable().default(null),
		/** The provider's words that paused it. */
		pauseReason: z.string().nullable().default(null)
	}),
	createdAt: timestampSchema,
	updatedAt: timestampSchema,
	lastSmtpTest: smtpTestSummarySchema.nullable(),
	/** The latest mail flow check (SPEC §13); absent from copies kept before it existed. */
	lastFlowCheck: flowCheckSummarySchema.nullable().optional()
});

export type MailboxFields = z.infer<typeof mailboxFieldsSchema>;
export type MailboxCreate = z.infer<typeof mailboxCreateSchema>;
export type MailboxUpdate = z.infer<typeof mailboxUpdateSchema>;
export type Mailbox = z.infer<typeof mailboxSchema>;
export type OAuthConnection = z.infer<typeof oauthConnectionSchema>;
/** A mailbox's SMTP settings as the admin edits them (a draft): the password travels apart. */
export type SmtpDraft = Omit<MailboxFields['smtp'], 'password'>;
export type SmtpTestSummary = z.infer<typeof smtpTestSummarySchema>;
