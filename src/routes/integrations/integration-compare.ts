/**
 * A channel integration in a version conflict (SPEC §6): the draft on this device and the
 * server's copy, field by field, in the words the pages use.
 */
import type { ComparedField } from '$lib/components/ConflictChoice.svelte';
import type { IntegrationDraft } from '$lib/offline/db';
import { integrationDraftOf } from '$lib/offline/sync';
import type { Integration } from '$lib/schema/integration';
import { webhookEventLabels, type WebhookEventType } from '$lib/schema/webhook';

export function compareIntegration(draft: IntegrationDraft, server: Integration): ComparedField[] {
	const theirs = integrationDraftOf(server);
	const fields: ComparedField[] = [{ label: 'Integration name', mine: draft.name, theirs: theirs.name }];
	// A draft an older app version kept has no webhook opinion: it keeps the server's.
	const mine = draft.webhook === undefined ? theirs.webhook : draft.webhook;
	if (!mine && !theirs.webhook) return fields;
	fields.push(
		{ label: 'Webhook URL', mine: mine?.url ?? 'No webhook', theirs: theirs.webhook?.url ?? 'No webhook' },
		{ label: 'Webhook events', mine: eventsInWords(mine?.events), theirs: eventsInWords(theirs.webhook?.events) }
	);
	return fields;
}

function eventsInWords(events: WebhookEventType[] | undefined): string {
	return events && events.length > 0 ? events.map((event) => webhookEventLabels[event]).join('; ') : '—';
}
