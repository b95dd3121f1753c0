import { ApiFailure } from '$lib/api';
import { describeFailure } from '$lib/format';
import type { SaveOutcome } from './MailboxForm.svelte';

/** A failed save as the form shows it: the server's message, and its field errors on the fields. */
export function failedSave(error: unknown): SaveOutcome {
	if (error instanceof ApiFailure) {
		const fields = Object.keys(error.fields).length > 0 ? error.fields : undefined;
		return { ok: false, message: error.message, fields };
	}
	return { ok: false, message: describeFailure(error) };
}
