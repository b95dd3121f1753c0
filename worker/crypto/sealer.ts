/**
 * The one sealing path for stored secrets (STYLE §15): SMTP passwords, OAuth tokens, webhook
 * secrets and the SMTP test's receipt go through the AES-256-GCM box (secret-box.ts), each under
 * a typed purpose that writes its binding label (the additional data). A label is written here
 * only, so a ciphertext of one purpose never opens as another, and the labels of values already
 * stored stay byte for byte what they were.
 *
 * A value that no longer opens (another SMTP_ENCRYPTION_KEY, no key, a row changed outside the
 * API) is one outcome everywhere: `{ ok: false, lost }` with a `config` hint saying what to enter
 * again, never an exception that becomes a 500.
 */
import { smtpServerKey } from '../../src/lib/schema/mailbox';
import { decryptSecret, encryptSecret } from './secret-box';

/** What each purpose binds its value to, and the label that binding writes. */
const LABELS = {
	/** Issue 18: a password opens only for its mailbox and the server, port, account and encryption it was entered for. */
	'smtp-password': (subject: { mailboxId: string; smtp: Parameters<typeof smtpServerKey>[0] }) => `mailbox:${subject.mailboxId}:smtp-password:${smtpServerKey(subject.smtp)}`,
	/** Passwords sealed before issue 18 were bound to the mailbox only (read, then sealed again with the binding). */
	'smtp-password-legacy': (subject: { mailboxId: string }) => `mailbox:${subject.mailboxId}`,
	'oauth-refresh': (subject: { mailboxId: string }) => `mailbox:${subject.mailboxId}:oauth-refresh`,
	'oauth-access': (subject: { mailboxId: string }) => `mailbox:${subject.mailboxId}:oauth-access`,
	'oauth-verifier': (subject: { mailboxId: string }) => `mailbox:${subject.mailboxId}:oauth-verifier`,
	'webhook-secret': (subject: { integrationId: string }) => `integration:${subject.integrationId}:webhook`,
	/** The settings an SMTP test ran with, handed to the browser and back (api/smtp-tests.ts). */
	'smtp-test-receipt': (subject: { testId: string }) => `smtp-test-receipt:${subject.testId}`
} as const;

export type SealPurpose = keyof typeof LABELS;
export type SealSubject<P extends SealPurpose> = Parameters<(typeof LABELS)[P]>[0];

/** What the admin does when a value of this purpose no longer opens. */
const REENTER: Record<SealPurpose, string> = {
	'smtp-password': "Enter the mailbox's SMTP password again and save.",
	'smtp-password-legacy': "Enter the mailbox's SMTP password again and save.",
	'oauth-refresh': 'Sign in again: press the sign-in button on the mailbox page.',
	'oauth-access': 'Sign in again: press the sign-in button on the mailbox page.',
	'oauth-verifier': 'Start the sign-in again from the mailbox page.',
	'webhook-secret': "Rotate the integration's webhook secret on its page and give the help desk the new one.",
	'smtp-test-receipt': 'Run the SMTP test again.'
};

/** A stored value that does not open: SPEC §4's `config` category, with what to enter again. */
export interface LostSecret {
	category: 'config';
	purpose: SealPurpose;
	/** No usable SMTP_ENCRYPTION_KEY, or a value sealed under another key or binding. */
	reason: 'no_key' | 'undecryptable';
	hint: string;
}

export type Opened = { ok: true; value: string } | { ok: false; lost: LostSecret };

export interface Sealer {
	/** Throws EncryptionKeyError without a usable key (the API answers 503 with the fix). */
	seal<P extends SealPurpose>(purpose: P, subject: SealSubject<P>, plain: string): Promise<string>;
	open<P extends SealPurpose>(purpose: P, subject: SealSubject<P>, sealed: string): Promise<Opened>;
}

/** The sealer for SMTP_ENCRYPTION_KEY (32 random bytes, base64). */
export function createSealer(key: string): Sealer {
	const secret = key || undefined;
	const label = <P extends SealPurpose>(purpose: P, subject: SealSubject<P>) => (LABELS[purpose] as (subject: SealSubject<P>) => string)(subject);
	return {
		seal: (purpose, subject, plain) => encryptSecret({ plain, secret, boundTo: label(purpose, subject) }),
		async open(purpose, subject, sealed) {
			if (!secret) return { ok: false, lost: lostSecret(purpose, 'no_key') };
			try {
				return { ok: true, value: await decryptSecret({ sealed, secret, boundTo: label(purpose, subject) }) };
			} catch {
				return { ok: false, lost: lostSecret(purpose, 'undecryptable') };
			}
		}
	};
}

export function lostSecret(purpose: SealPurpose, reason: LostSecret['reason']): LostSecret {
	const why =
		reason === 'no_key'
			? 'SMTP_ENCRYPTION_KEY is not set on this Worker, so a stored secret cannot be opened.'
			: 'A stored secret cannot be opened: it was sealed with another SMTP_ENCRYPTION_KEY, or for other settings than the saved ones.';
	return { category: 'config', purpose, reason, hint: `${why} ${REENTER[purpose]}` };
}
