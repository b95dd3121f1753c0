import { z } from 'zod';

/**
 * A required, trimmed text field with human messages. Missing, empty and wrongly typed
 * values all read as "Enter …" so that the form and the API say the same thing.
 */
export function requiredText(options: { what: string; max: number; label: string }) {
	const missing = `Enter the ${options.what}`;
	return z
		.string({ error: (issue) => (issue.input === undefined ? missing : `${options.label} must be text`) })
		.trim()
		.min(1, { error: missing })
		.max(options.max, { error: `${options.label} is at most ${options.max} characters` })
		// Names and accounts travel in headers and SMTP commands (a mailbox name is the From's
		// display name): one line, no control characters (RFC 5322 §2.2, issue 18).
		.refine((value) => !CONTROL_CHARACTERS.test(value), { error: `${options.label} must be one line, without control characters` });
}

// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;

/** Client-generated ids make a retried create idempotent (SPEC §6). */
export const idSchema = z.uuid({ error: 'Must be a UUID' });

/** A record's optimistic-concurrency version, carried by every update (SPEC §7). */
export const versionSchema = z
	.number({ error: 'Send the version you edited (a whole number)' })
	.int({ error: 'Send the version you edited (a whole number)' })
	.positive({ error: 'Send the version you edited (a whole number)' });

export const timestampSchema = z.iso.datetime();
