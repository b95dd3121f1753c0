/**
 * Sent mail's filters as the page keeps them: in its URL (a filtered view can be linked, as the
 * mailbox health counts do, and survives a reload) and in words.
 */
import { filterQuery } from '$lib/api';
import { outboundFilterKeys, type OutboundFilters, type OutboundStatus } from '$lib/schema/outbound';

/** The filters a Sent mail URL names, as written; the Worker checks them (422 by field). */
export function sentFiltersFromUrl(params: URLSearchParams): OutboundFilters {
	const filters: OutboundFilters = {};
	for (const key of outboundFilterKeys) {
		const value = params.get(key)?.trim();
		if (value) (filters as Record<string, string>)[key] = value;
	}
	return filters;
}

/** `/sent?…` for these filters, always in the same order. */
export function sentHref(filters: OutboundFilters): string {
	return `/sent${filterQuery({ mailboxId: filters.mailboxId, status: filters.status })}`;
}

const statusWords: Record<OutboundStatus, string> = {
	queued: 'queued messages',
	sending: 'messages being sent',
	sent: 'sent messages',
	deferred: 'messages waiting to be retried',
	failed: 'failed messages',
	bounced: 'bounced messages'
};

/** The view in words, e.g. "failed messages from support@acme.com". */
export function describeSentFilters(filters: OutboundFilters, mailboxLabel: (id: string) => string): string {
	const what = (filters.status && statusWords[filters.status]) || 'messages';
	return `${what} ${filters.mailboxId ? `from ${mailboxLabel(filters.mailboxId)}` : 'from all mailboxes'}`;
}
