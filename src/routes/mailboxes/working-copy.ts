/**
 * Issue 19 (SPEC §16 "Typing is never lost"): the mailbox form's unsaved values, kept on this
 * device from the first keystroke (store.ts `keepWorkingCopy`) until they are saved or discarded:
 * one working copy for the Add form, one per existing mailbox. The typed password is sealed apart.
 */
import { live } from '$lib/offline/live.svelte';
import type { Expected, OfflineStore } from '$lib/offline/store';
import type { MailboxFormValues } from './mailbox-form';

/** What is kept besides the password: the form's values, and the receipt of a passing test of them (for a mailbox not on the server yet). */
export interface KeptMailbox {
	form: Omit<MailboxFormValues, 'password'>;
	smtpTestReceipt: string | null;
}

/** The restored working copy, ready for the form. */
export interface RestoredMailbox {
	values: MailboxFormValues;
	smtpTestReceipt: string | null;
	expected: Expected | null;
	/** A password was kept but cannot be opened on this device any more: it must be typed again. */
	passwordLost: boolean;
}

export function workingCopyKey(mailboxId: string | null): string {
	return mailboxId === null ? 'mailbox:new' : `mailbox:${mailboxId}`;
}

const formFields: (keyof MailboxFormValues)[] = [
	'integrationId', 'name', 'description', 'address', 'signIn', 'host', 'port', 'username', 'password', 'encryption', 'manualForward'
];

/** Whether two states of the form say the same (then there is nothing unsaved to keep). */
export function sameFormValues(a: MailboxFormValues, b: MailboxFormValues): boolean {
	return formFields.every((field) => a[field] === b[field]);
}

/** The working copy kept under `key`, or null (none, or this device's storage cannot be read). */
export async function restoreMailbox(key: string, base: MailboxFormValues, store?: OfflineStore): Promise<RestoredMailbox | null> {
	try {
		const copy = await (store ?? (await live.store())).workingCopy<KeptMailbox>(key);
		if (!copy || !copy.values?.form) return null;
		return {
			// Fields added to the form since the copy was kept take the base's value.
			values: { ...base, ...copy.values.form, password: copy.password },
			smtpTestReceipt: copy.values.smtpTestReceipt ?? null,
			expected: copy.expected,
			passwordLost: copy.passwordLost
		};
	} catch {
		return null;
	}
}

/**
 * Keeps or drops one form's working copy, one write at a time in the order asked, so that a
 * slower earlier write never lands over a later one (or over the drop after Save).
 */
export class MailboxKeeper {
	private chain: Promise<void> = Promise.resolve();

	constructor(private readonly key: string) {}

	keep(values: MailboxFormValues, extra: { smtpTestReceipt: string | null; expected: Expected | null }): Promise<void> {
		const { password, ...form } = values;
		return this.enqueue((store) =>
			store.keepWorkingCopy<KeptMailbox>(
				this.key,
				{ values: { form, smtpTestReceipt: extra.smtpTestReceipt }, expected: extra.expected, keptAt: new Date().toISOString() },
				password
			)
		);
	}

	drop(): Promise<void> {
		return this.enqueue((store) => store.dropWorkingCopy(this.key));
	}

	private enqueue(write: (store: OfflineStore) => Promise<void>): Promise<void> {
		this.chain = this.chain
			.then(async () => write(await live.store()))
			.catch(() => {
				// No storage on this device (private mode, quota): the form still works, it just is not kept.
			});
		return this.chain;
	}
}
