/**
 * The mailbox form's pure core: what the admin typed, how it becomes a draft, the field errors
 * the shared schemas give for it, and how a draft compares with the server's copy. No DOM, no
 * fetch, no IndexedDB.
 */
import type { z } from 'zod';
import type { ComparedField } from '$lib/components/ConflictChoice.svelte';
import type { MailboxDraft } from '$lib/offline/db';
import { fieldErrors, type FieldErrors } from '$lib/schema/api-error';
import {
	encryptionLabels,
	mailboxCreateSchema,
	mailboxFieldsSchema,
	oauthProviderLabels,
	oauthProviderServers,
	PASSWORD_AGAIN_MESSAGE,
	providerSendingLimits,
	sameSmtpServer,
	sendViaLabels,
	smtpSettingsSchema,
	usualPort,
	type Encryption,
	type Mailbox,
	type MailboxCreate,
	type MailboxFields,
	type OAuthProvider,
	type SendVia,
	type SmtpLimits
} from '$lib/schema/mailbox';
import { mailboxDraftOf } from '$lib/offline/sync';
import { anotherConsent, sendMethodOf, type SendMethod } from '$lib/components/smtp-words';

/** The Sign-in method control (SPEC §12): a password, or OAuth with one of the providers. */
export type SignInChoice = 'password' | OAuthProvider;
export const signInLabels: Record<SignInChoice, string> = { password: 'Password', ...oauthProviderLabels };

/** Every control's value as text or a choice, exactly as the form holds it. */
export interface MailboxFormValues {
	integrationId: string;
	name: string;
	description: string;
	address: string;
	signIn: SignInChoice;
	/** SPEC §14: Send through, shown once a provider is chosen (a password always sends by SMTP). */
	sendVia: SendVia;
	host: string;
	port: string;
	username: string;
	password: string;
	encryption: Encryption;
	/** SPEC §15: Sending limits, optional: empty is the provider's default. */
	concurrent: string;
	perMinute: string;
	manualForward: 'reject' | 'accept';
}

export type FormField = keyof MailboxFormValues;

/** The dotted path the schemas and the API use for each control (`fieldErrors()` keys). */
export const fieldPaths: Record<FormField, string> = {
	integrationId: 'integrationId',
	name: 'name',
	description: 'description',
	address: 'address',
	signIn: 'smtp.auth',
	sendVia: 'smtp.sendVia',
	host: 'smtp.host',
	port: 'smtp.port',
	username: 'smtp.username',
	password: 'smtp.password',
	encryption: 'smtp.encryption',
	concurrent: 'smtp.limits.concurrent',
	perMinute: 'smtp.limits.perMinute',
	manualForward: 'manualForward'
};

/** A new mailbox starts on the usual submission setup: STARTTLS on 587. */
export function emptyValues(): MailboxFormValues {
	return {
		integrationId: '',
		name: '',
		description: '',
		address: '',
		signIn: 'password',
		sendVia: 'smtp',
		host: '',
		port: '587',
		username: '',
		password: '',
		encryption: 'starttls',
		concurrent: '',
		perMinute: '',
		manualForward: 'reject'
	};
}

/** The form for editing a mailbox's draft; the password is write-only, so it starts empty. */
export function valuesFromDraft(draft: MailboxDraft): MailboxFormValues {
	return {
		integrationId: draft.integrationId,
		name: draft.name,
		description: draft.description,
		address: draft.address,
		signIn: draft.smtp.auth === 'oauth2' ? (draft.smtp.oauth?.provider ?? 'microsoft') : 'password',
		// A draft kept before SPEC §14 has no sendVia: it sent by SMTP.
		sendVia: draft.smtp.auth === 'oauth2' ? (draft.smtp.sendVia ?? 'smtp') : 'smtp',
		host: draft.smtp.host,
		port: String(draft.smtp.port),
		username: draft.smtp.username,
		password: '',
		encryption: draft.smtp.encryption,
		// A draft kept before SPEC §15 has no limits: the provider's defaults.
		concurrent: String(draft.smtp.limits?.concurrent ?? ''),
		perMinute: String(draft.smtp.limits?.perMinute ?? ''),
		manualForward: draft.manualForward
	};
}

/**
 * Port text to a number for the schema: empty is "missing", anything but digits is NaN (which
 * the schema refuses with its whole-number message). `Number()` alone would accept "1e3" or "0x19".
 */
export function parsePort(text: string): number | undefined {
	const trimmed = text.trim();
	if (trimmed === '') return undefined;
	return /^\d+$/.test(trimmed) ? Number(trimmed) : Number.NaN;
}

/**
 * SPEC §15: the Sending limits as the schema takes them: both empty is the provider's defaults
 * (null); a field left empty is the provider's value for it.
 */
export function limitsInput(values: Pick<MailboxFormValues, 'concurrent' | 'perMinute'>): { concurrent?: number; perMinute?: number } | null {
	const concurrent = parsePort(values.concurrent);
	const perMinute = parsePort(values.perMinute);
	if (concurrent === undefined && perMinute === undefined) return null;
	return { ...(concurrent === undefined ? {} : { concurrent }), ...(perMinute === undefined ? {} : { perMinute }) };
}

/** SPEC §15: the provider's limits for the form's settings, the Sending limits' placeholders. */
export function limitPlaceholders(values: Pick<MailboxFormValues, 'signIn' | 'sendVia' | 'host'>): { concurrent: string; perMinute: string } {
	const oauth = values.signIn !== 'password';
	const limits = providerSendingLimits({
		host: values.host,
		auth: oauth ? 'oauth2' : 'password',
		oauth: oauth ? { provider: values.signIn as OAuthProvider } : null,
		sendVia: values.sendVia
	});
	return { concurrent: String(limits.concurrent), perMinute: limits.perMinute === null ? 'No limit' : String(limits.perMinute) };
}

/** SPEC §15: the limits in words (the version conflict's comparison). */
export function limitsWords(limits: SmtpLimits | null | undefined): string {
	if (!limits || (limits.concurrent === undefined && limits.perMinute === undefined)) return 'The provider’s defaults';
	const sessions = limits.concurrent === undefined ? 'the provider’s sessions' : `${limits.concurrent} at once`;
	const rate = limits.perMinute === undefined ? 'the provider’s rate' : `${limits.perMinute} a minute`;
	return `${sessions}, ${rate}`;
}

/** SPEC §14: the provider's API sends for this form (a provider chosen, Send through its API). */
export function sendsThroughApi(values: Pick<MailboxFormValues, 'signIn' | 'sendVia'>): boolean {
	return values.signIn !== 'password' && values.sendVia === 'api';
}

/** How the form's settings send, for the words of the sending test (issue 19, SPEC §14). */
export function formSendMethod(values: Pick<MailboxFormValues, 'signIn' | 'sendVia'>): SendMethod {
	const oauth = values.signIn !== 'password';
	return sendMethodOf({ auth: oauth ? 'oauth2' : 'password', provider: oauth ? (values.signIn as OAuthProvider) : null, sendVia: values.sendVia });
}

function toInput(values: MailboxFormValues) {
	const oauth = values.signIn !== 'password';
	// SPEC §14: the API needs no server, port or encryption (the hidden controls keep what was typed,
	// for a switch back); the provider's SMTP server stands in their place, unused, as the Worker keeps it.
	const server = sendsThroughApi(values)
		? oauthProviderServers[values.signIn as OAuthProvider]
		: { host: values.host, port: parsePort(values.port), encryption: values.encryption };
	return {
		integrationId: values.integrationId,
		name: values.name,
		description: values.description,
		address: values.address,
		smtp: {
			host: server.host,
			port: server.port,
			username: values.username,
			// SPEC §12: with OAuth no password is kept, so none is sent.
			password: oauth ? undefined : values.password,
			encryption: server.encryption,
			auth: oauth ? ('oauth2' as const) : ('password' as const),
			oauth: oauth ? { provider: values.signIn as OAuthProvider } : null,
			sendVia: oauth ? values.sendVia : ('smtp' as const),
			limits: limitsInput(values)
		},
		manualForward: values.manualForward
	};
}

/**
 * SPEC §12: choosing a provider fills in its SMTP server, port and encryption (the admin may
 * still change them). Password leaves them as they are.
 */
export function withSignIn(values: MailboxFormValues, signIn: SignInChoice): MailboxFormValues {
	// SPEC §14: only a provider's sign-in reaches its API.
	if (signIn === 'password') return { ...values, signIn, sendVia: 'smtp' };
	const server = oauthProviderServers[signIn];
	return { ...values, signIn, host: server.host, port: String(server.port), encryption: server.encryption };
}

export type Validation<T> = { ok: true; data: T } | { ok: false; errors: FieldErrors };

function run<T>(schema: z.ZodType<T>, input: unknown): Validation<T> {
	const result = schema.safeParse(input);
	return result.success ? { ok: true, data: result.data } : { ok: false, errors: fieldErrors(result.error.issues) };
}

/** A new mailbox, validated as `POST /api/mailboxes` will validate it. */
export function validateNew(values: MailboxFormValues): Validation<MailboxCreate> {
	return run(mailboxCreateSchema, toInput(values));
}

/** The server, port, account and encryption a stored password was entered for. */
export type PasswordServer = Pick<Mailbox['smtp'], 'host' | 'port' | 'username' | 'encryption'>;

/**
 * Issue 18: whether the form's server settings differ from those the stored password was entered
 * for (`storedFor`), so that the password must be typed again (the API answers 422 otherwise).
 */
export function passwordNeededAgain(values: MailboxFormValues, storedFor: PasswordServer | null): boolean {
	if (!storedFor || values.signIn !== 'password' || values.password !== '') return false;
	const port = parsePort(values.port) ?? Number.NaN;
	return !sameSmtpServer({ host: values.host, port, username: values.username.trim(), encryption: values.encryption }, storedFor);
}

/**
 * An edited mailbox: an empty password keeps the stored one (SPEC §3) for the server it was
 * entered for (`storedFor`, issue 18), unless none is stored, in which case the create rule
 * (password required, unless it signs in with OAuth) applies.
 */
export function validateEdit(values: MailboxFormValues, hasPassword: boolean, storedFor: PasswordServer | null = null): Validation<MailboxFields> {
	const result = hasPassword ? run(mailboxFieldsSchema, toInput(values)) : run(mailboxCreateSchema, toInput(values));
	if (!passwordNeededAgain(values, storedFor)) return result;
	const errors = result.ok ? {} : result.errors;
	return { ok: false, errors: { ...errors, [fieldPaths.password]: errors[fieldPaths.password] ?? PASSWORD_AGAIN_MESSAGE } };
}

/** The form's SMTP settings for the sending test, validated alone (the rest may be unfinished). */
export function smtpForTest(values: MailboxFormValues): Validation<MailboxFields['smtp']> {
	return run(smtpSettingsSchema, toInput(values).smtp);
}

/**
 * Validated form data as the offline store keeps it: the draft, and apart from it the password
 * (sealed before it is stored; empty keeps the stored one).
 */
export function splitPassword(data: MailboxFields | MailboxCreate): { draft: MailboxDraft; password: string } {
	const { password = '', auth = 'password', oauth = null, ...smtp } = data.smtp;
	const draft: MailboxDraft = {
		integrationId: data.integrationId,
		name: data.name,
		description: data.description,
		address: data.address,
		smtp: { ...smtp, auth, oauth: auth === 'oauth2' && oauth ? { provider: oauth.provider } : null },
		manualForward: data.manualForward
	};
	return { draft, password: auth === 'oauth2' ? '' : password };
}

const manualForwardLabels: Record<MailboxDraft['manualForward'], string> = {
	reject: 'Reject (recommended)',
	accept: 'Accept and flag'
};

/**
 * The draft and the server's copy field by field, under the form's labels, for the admin to
 * compare on a version conflict. The password shows only as "new" versus "stored": neither copy
 * is readable, and a new one is part of the draft.
 */
export function compareMailbox(options: {
	draft: MailboxDraft;
	newPassword: boolean;
	server: Mailbox;
	integrationName: (id: string) => string;
}): ComparedField[] {
	const { draft, newPassword, server, integrationName } = options;
	const theirs = mailboxDraftOf(server);
	const shown = (value: string) => (value === '' ? '(empty)' : value);
	const pair = (label: string, read: (d: MailboxDraft) => string): ComparedField => ({
		label,
		mine: shown(read(draft)),
		theirs: shown(read(theirs))
	});
	const fields = [
		pair('Associated channel integration', (d) => integrationName(d.integrationId)),
		pair('Mailbox name', (d) => d.name),
		pair('Description', (d) => d.description),
		pair('Service email address', (d) => d.address),
		pair('Manually forwarded mail', (d) => manualForwardLabels[d.manualForward]),
		pair('Sign-in method', (d) => (d.smtp.auth === 'oauth2' && d.smtp.oauth ? oauthProviderLabels[d.smtp.oauth.provider] : 'Password')),
		pair('Send through', (d) => (d.smtp.auth === 'oauth2' && d.smtp.oauth ? sendViaLabels(d.smtp.oauth.provider)[d.smtp.sendVia ?? 'smtp'] : sendViaLabels('microsoft').smtp)),
		pair('Server address', (d) => d.smtp.host),
		pair('Port', (d) => String(d.smtp.port)),
		pair('Encryption', (d) => encryptionLabels[d.smtp.encryption]),
		pair('Account', (d) => d.smtp.username),
		pair('Sending limits', (d) => limitsWords(d.smtp.limits))
	];
	if (newPassword) {
		fields.push({
			label: 'Password',
			mine: 'A new password (hidden)',
			theirs: server.smtp.hasPassword ? 'The stored password (hidden)' : '(none)'
		});
	}
	return fields;
}

/**
 * A non-blocking note when the port is the one usually paired with the other encryption
 * (465 is implicit TLS, 587 is STARTTLS: RFC 8314 §3.3 and RFC 6409).
 */
export function pairingHint(encryption: Encryption, port: string): string {
	const number = parsePort(port);
	if (encryption === 'tls' && number === usualPort.starttls) {
		return 'Port 587 usually goes with STARTTLS; SSL/TLS usually uses port 465. Check your provider’s settings.';
	}
	if (encryption === 'starttls' && number === usualPort.tls) {
		return 'Port 465 usually goes with SSL/TLS; STARTTLS usually uses port 587. Check your provider’s settings.';
	}
	return '';
}

/** Issue 19: the same warning for a mailbox that signs in with OAuth: it has no password. */
export const UNENCRYPTED_OAUTH_WARNING =
	'Without encryption, the sign-in and every message travel unencrypted and can be read on the way. Choose SSL/TLS or STARTTLS.';

export const UNENCRYPTED_WARNING =
	'Without encryption, the password and every message travel unencrypted and can be read on the way. Choose SSL/TLS or STARTTLS unless the server is on your own network.';

/** SPEC §14: what each Send through choice means for the provider chosen, under the control. */
export function sendViaHint(provider: OAuthProvider, sendVia: SendVia): string {
	if (provider === 'microsoft') {
		return sendVia === 'api'
			? 'Sends over HTTPS with Microsoft Graph, which works where SMTP AUTH is switched off (Security Defaults). No server settings needed.'
			: 'Sends through Microsoft 365’s SMTP server, which needs SMTP AUTH allowed for the mailbox.';
	}
	return sendVia === 'api'
		? 'Sends over HTTPS with the Gmail API, which needs permission to send only (gmail.send). No server settings needed.'
		: 'Sends through Gmail’s SMTP server, which needs full access to the mailbox (mail.google.com).';
}

/**
 * SPEC §14: switching Send through on a mailbox signed in for the other method needs another
 * consent from the provider (the grant is for the scope it was asked for). Said before saving, so
 * that the admin knows why the sign-in turns to Reconnect. Empty when nothing changes or there is
 * no sign-in yet; nothing either when the saved method was the one the grant lacked (switching
 * back to what it was given).
 */
export function consentNote(
	values: Pick<MailboxFormValues, 'signIn' | 'sendVia'>,
	saved: { sendVia: SendVia; connection: { provider: OAuthProvider; status: string; scopeMissing?: boolean } | null }
): string {
	const connection = saved.connection;
	if (values.signIn === 'password' || !connection || connection.provider !== values.signIn) return '';
	if (connection.status === 'not_connected' || connection.scopeMissing || values.sendVia === saved.sendVia) return '';
	return `After saving, press Reconnect: ${anotherConsent(values.signIn, values.sendVia)}.`;
}
