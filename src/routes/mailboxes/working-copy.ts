/**
 * Issue 19 (SPEC §16 "Typing is never lost"): the mailbox form's unsaved values, kept on this
 * device from the first keystroke (store.ts `keepWorkingCopy`) until they are saved or discarded:
 * one working copy for the Add form, one per existing mailbox. The typed password is sealed apart.
 */
import type { Expected, OfflineStore } from '$lib/offline/store';
import { WorkingCopyKeeper } from '$lib/offline/working-copy';
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
	'integrationId', 'name', 'description', 'address', 'signIn', 'sendVia', 'host', 'port', 'username', 'password', 'encryption', 'concurrent', 'perMinute',
	'manualForward'
];

/** Whether two states of the form say the same (then there is nothing unsaved to keep). */
export function sameFormValues(a: MailboxFormValues, b: MailboxFormValues): boolean {
	return formFields.every((field) => a[field] === b[field]);
}

/**
 * The mailbox form's working copy: the values without the password, which is sealed apart, and
 * the receipt of a passing test of them.
 */
export class MailboxKeeper {
	readonly #copy: WorkingCopyKeeper<KeptMailbox>;

	constructor(key: string, store?: () => Promise<OfflineStore>) {
		this.#copy = new WorkingCopyKeeper<KeptMailbox>(key, store);
	}

	/** The working copy kept, ready for the form, or null (none, or this device's storage cannot be read). */
	async restore(base: MailboxFormValues): Promise<RestoredMailbox | null> {
		const copy = await this.#copy.read();
		if (!copy || !copy.values?.form) return null;
		return {
			// Fields added to the form since the copy was kept take the base's value.
			values: { ...base, ...copy.values.form, password: copy.password },
			smtpTestReceipt: copy.values.smtpTestReceipt ?? null,
			expected: copy.expected,
			passwordLost: copy.passwordLost
		};
	}

	keep(values: MailboxFormValues, extra: { smtpTestReceipt: string | null; expected: Expected | null }): Promise<void> {
		const { password, ...form } = values;
		return this.#copy.keep({ form, smtpTestReceipt: extra.smtpTestReceipt }, extra.expected, password);
	}

	drop(): Promise<void> {
		return this.#copy.drop();
	}
}
