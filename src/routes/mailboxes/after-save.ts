import { goto } from '$app/navigation';
import type { LocalMailbox } from '$lib/offline/db';
import { flash } from '$lib/session.svelte';
import type { SaveOutcome } from './MailboxForm.svelte';

/**
 * Where a saved mailbox leads, once the sync had its chance (SPEC §6): synced or still waiting
 * for the network, back to the list; refused by the server, the form with the server's verdict
 * on its fields; a version conflict, the comparison.
 */
export async function afterSave(record: LocalMailbox | undefined, from: 'new' | 'edit'): Promise<SaveOutcome> {
	if (!record) {
		await goto('/');
		return { ok: true };
	}
	const address = record.draft.address;
	switch (record.state) {
		case 'synced':
			flash.message = `Mailbox ${address} saved.`;
			await goto('/');
			return { ok: true };
		case 'local':
		case 'syncing':
			flash.message = `Mailbox ${address} saved on this device. It is sent to the server as soon as the connection allows.`;
			await goto('/');
			return { ok: true };
		case 'rejected':
			if (from === 'new') {
				// The draft now has an address of its own: the edit page shows it with the verdict.
				await goto(`/mailboxes/${record.id}`, { replaceState: true });
				return { ok: true };
			}
			return {
				ok: false,
				message: record.message ?? 'The server refused this mailbox.',
				fields: Object.keys(record.fieldErrors).length > 0 ? record.fieldErrors : undefined
			};
		case 'conflict':
			// The page swaps the form for the comparison.
			return { ok: false, message: '' };
	}
}
