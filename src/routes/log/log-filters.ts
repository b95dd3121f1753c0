/**
 * The email log's filters as the page keeps them: in its URL (so a filtered view can be linked
 * and survives a reload), in the filter form (datetime-local values in the browser's time zone)
 * and in words (the results status and the empty state).
 */
import { filterQuery } from '$lib/api';
import { formatDateTime } from '$lib/format';
import { filterKeys, normaliseFilters, normaliseMessageId, type MessageFilters } from '$lib/schema/message';

/** `mailboxId` of deliveries refused because the recipient is not a service address. */
export const NOT_A_SERVICE_ADDRESS = 'none';

/**
 * The filters a log URL names, as written. Values are not checked here: the Worker validates
 * them and its field errors (422) are shown by the fields, so a mistyped link explains itself.
 */
export function filtersFromUrl(params: URLSearchParams): MessageFilters {
	const filters: MessageFilters = {};
	for (const key of filterKeys) {
		const value = params.get(key)?.trim();
		if (value) (filters as Record<string, string>)[key] = value;
	}
	return filters;
}

/** `/log?…` for these filters, always in the same order. */
export function logHref(filters: MessageFilters): string {
	return `/log${filterQuery(normaliseFilters(filters))}`;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** An ISO date-time as a datetime-local value in this browser's time zone; '' when it does not parse. */
export function toLocalInput(iso: string | undefined): string {
	if (!iso) return '';
	const date = new Date(iso);
	if (Number.isNaN(date.getTime())) return '';
	return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/**
 * A datetime-local value as ISO 8601 with this browser's offset at that date (summer time
 * included), e.g. `2026-03-02T09:30:00+01:00`, the form the API requires.
 */
export function fromLocalInput(value: string): string | undefined {
	if (!value) return undefined;
	const date = new Date(value);
	if (Number.isNaN(date.getTime())) return undefined;
	const offset = -date.getTimezoneOffset();
	const sign = offset >= 0 ? '+' : '-';
	const zone = `${sign}${pad(Math.floor(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`;
	return (
		`${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
		`T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}${zone}`
	);
}

/** The kinds of mail in words (SPEC §16), as the search describes them. */
const kindNouns: Record<string, string> = {
	message: 'customer mail',
	test: 'SMTP tests',
	probe: 'flow check probes',
	bounce: 'bounces'
};

/** The search in words, e.g. "rejected mail to support@acme.com from example.com". */
export function describeFilters(filters: MessageFilters, mailboxLabel: (id: string) => string): string {
	const parts: string[] = [];
	const verdict = filters.verdict ? filters.verdict.toLowerCase() + ' ' : '';
	const noun = (filters.kind && kindNouns[filters.kind]) || 'mail';
	if (filters.mailboxId === NOT_A_SERVICE_ADDRESS) parts.push(`${verdict}${filters.kind ? noun : 'deliveries'} to addresses that are not service addresses`);
	else if (filters.mailboxId) parts.push(`${verdict}${noun} to ${mailboxLabel(filters.mailboxId)}`);
	else parts.push(`${verdict}${noun} to all mailboxes`);
	if (filters.from) parts.push(`from ${filters.from}`);
	if (filters.messageId) parts.push(`with Message-ID <${normaliseMessageId(filters.messageId)}>`);
	if (filters.since) parts.push(`received from ${formatDateTime(filters.since)}`);
	if (filters.until) parts.push(`received before ${formatDateTime(filters.until)}`);
	return parts.join(' ');
}
