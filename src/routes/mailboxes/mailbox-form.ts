/**
 * The mailbox form's pure core: what the admin typed, how it becomes an API payload, and the
 * field errors the shared schemas give for it. No DOM, no fetch.
 */
import type { z } from 'zod';
import { fieldErrors, type FieldErrors } from '$lib/schema/api-error';
import {
	mailboxCreateSchema,
	mailboxFieldsSchema,
	usualPort,
	type Encryption,
	type Mailbox,
	type MailboxCreate,
	type MailboxFields
} from '$lib/schema/mailbox';

/** Every control's value as text or a choice, exactly as the form holds it. */
export interface MailboxFormValues {
	integrationId: string;
	name: string;
	description: string;
	address: string;
	host: string;
	port: string;
	username: string;
	password: string;
	encryption: Encryption;
	manualForward: 'reject' | 'accept';
}

export type FormField = keyof MailboxFormValues;

/** The dotted path the schemas and the API use for each control (`fieldErrors()` keys). */
export const fieldPaths: Record<FormField, string> = {
	integrationId: 'integrationId',
	name: 'name',
	description: 'description',
	address: 'address',
	host: 'smtp.host',
	port: 'smtp.port',
	username: 'smtp.username',
	password: 'smtp.password',
	encryption: 'smtp.encryption',
	manualForward: 'manualForward'
};

/** A new mailbox starts on the usual submission setup: STARTTLS on 587. */
export function emptyValues(): MailboxFormValues {
	return {
		integrationId: '',
		name: '',
		description: '',
		address: '',
		host: '',
		port: '587',
		username: '',
		password: '',
		encryption: 'starttls',
		manualForward: 'reject'
	};
}

/** The form for editing a saved mailbox; the password is write-only, so it starts empty. */
export function valuesFromMailbox(mailbox: Mailbox): MailboxFormValues {
	return {
		integrationId: mailbox.integrationId,
		name: mailbox.name,
		description: mailbox.description,
		address: mailbox.address,
		host: mailbox.smtp.host,
		port: String(mailbox.smtp.port),
		username: mailbox.smtp.username,
		password: '',
		encryption: mailbox.smtp.encryption,
		manualForward: mailbox.manualForward
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

function toInput(values: MailboxFormValues) {
	return {
		integrationId: values.integrationId,
		name: values.name,
		description: values.description,
		address: values.address,
		smtp: {
			host: values.host,
			port: parsePort(values.port),
			username: values.username,
			password: values.password,
			encryption: values.encryption
		},
		manualForward: values.manualForward
	};
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

/**
 * An edited mailbox: an empty password keeps the stored one (SPEC §3), unless none is
 * stored, in which case the create rule (password required) applies.
 */
export function validateEdit(values: MailboxFormValues, hasPassword: boolean): Validation<MailboxFields> {
	return hasPassword ? run(mailboxFieldsSchema, toInput(values)) : run(mailboxCreateSchema, toInput(values));
}

/** The PATCH body: every field, the version edited, and the password only when one was typed. */
export function toUpdate(data: MailboxFields, version: number) {
	const { password, ...smtp } = data.smtp;
	return { ...data, smtp: password ? { ...smtp, password } : smtp, version };
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

export const UNENCRYPTED_WARNING =
	'Without encryption, the password and every message travel unencrypted and can be read on the way. Choose SSL/TLS or STARTTLS unless the server is on your own network.';
