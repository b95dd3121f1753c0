import { goto } from '$app/navigation';
import { api } from '$lib/api';
import { describeFailure } from '$lib/format';
import type { LocalMailbox } from '$lib/offline/db';
import { anotherConsent } from '$lib/components/smtp-words';
import { oauthProviderLabels, type OAuthProvider } from '$lib/schema/mailbox';
import { flash } from '$lib/session.svelte';
import type { SaveOutcome } from './MailboxForm.svelte';

/**
 * Where a saved mailbox leads, once the sync had its chance (SPEC §6). Issue 19: an existing
 * mailbox stays on its page with a notice; a new one goes to its own page (its test, health and
 * flow check are there), synced or still waiting for the network. Refused by the server, the form
 * with the server's verdict on its fields; a version conflict, the comparison.
 */
export async function afterSave(record: LocalMailbox | undefined, from: 'new' | 'edit'): Promise<SaveOutcome> {
	if (!record) {
		await goto('/');
		return { ok: true };
	}
	const address = record.draft.address;
	const stay = async (message: string): Promise<SaveOutcome> => {
		if (from === 'edit') return { ok: true, notice: message };
		flash.message = message;
		await goto(`/mailboxes/${record.id}`, { replaceState: true });
		return { ok: true };
	};
	switch (record.state) {
		case 'synced': {
			// SPEC §12: a mailbox that signs in with OAuth cannot send before it signed in: say so.
			const oauth = record.server?.smtp.oauth;
			if (oauth && oauth.status !== 'connected') {
				const provider = oauthProviderLabels[oauth.provider];
				// SPEC §14: Send through changed to a method the grant was not given for.
				if (oauth.status === 'reconnect' && oauth.scopeMissing) {
					return stay(`Mailbox ${address} saved. Press Reconnect: ${anotherConsent(oauth.provider, record.server?.smtp.sendVia ?? 'smtp')}.`);
				}
				return stay(
					oauth.status === 'reconnect'
						? `Mailbox ${address} saved. Sign-in to ${provider} needs renewing: Reconnect so that it can send.`
						: `Mailbox ${address} saved. Sign in with ${provider} so that it can send.`
				);
			}
			return stay(`Mailbox ${address} saved.`);
		}
		case 'local':
		case 'syncing':
			return stay(`Mailbox ${address} saved on this device. It is sent to the server as soon as the connection allows.`);
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

/**
 * SPEC §12: after the form was saved for Sign in with Microsoft / Google, leave for the provider's
 * sign-in page, which needs the mailbox on the server with that Sign-in method. Otherwise say why,
 * as a save would (refused, in conflict), or that the sign-in waits for the network.
 */
export async function signInAfterSave(record: LocalMailbox | undefined, provider: OAuthProvider, from: 'new' | 'edit'): Promise<SaveOutcome> {
	if (!record || record.state === 'rejected' || record.state === 'conflict') return afterSave(record, from);
	if (record.state !== 'synced') {
		const message = `Saved on this device. Signing in with ${oauthProviderLabels[provider]} needs the connection to the server; try again once it is back.`;
		if (from === 'new') {
			flash.message = message;
			await goto(`/mailboxes/${record.id}`, { replaceState: true });
			return { ok: true };
		}
		return { ok: false, message };
	}
	try {
		const { authorizationUrl } = await api.startOAuth(record.id, provider);
		window.location.assign(authorizationUrl);
		return { ok: true };
	} catch (error) {
		if (from === 'new') {
			flash.message = describeFailure(error);
			await goto(`/mailboxes/${record.id}`, { replaceState: true });
			return { ok: true };
		}
		return { ok: false, message: describeFailure(error) };
	}
}
