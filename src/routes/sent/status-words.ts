/**
 * Where an outbound message stands, in the admin's words (SPEC §10, §16 "Statuses follow the
 * item"): written once for the message page, the replies listed under an inbound message and the
 * Sent mail row, so that a reply reads the same wherever it shows.
 */
import { PASSWORD_SMTP, providerName, theApi, type SendMethod } from '$lib/components/smtp-words';
import { formatDateTime } from '$lib/format';
import type { OutboundItem } from '$lib/schema/outbound';
import { describeNextTry } from './next-try';

/** Why no Retry is offered when the address itself is wrong (issue 19, see `wrongAddresses`). */
export const WRONG_ADDRESS_ADVICE = 'Retrying cannot change that. The help desk must reply to a corrected address.';

export interface StatusWords {
	/** How the notice looks: neutral while it moves, then success, warning or error. */
	tone: '' | 'success' | 'warning' | 'error';
	/** The status in a few words ("Sent."), then what it means. */
	title: string;
	text: string;
}

/**
 * `wrong`: every failed recipient's address is wrong (`wrongAddresses`), so retrying cannot help;
 * `method`: how it leaves (send-method.ts), the mailbox's SMTP server or its provider's API (SPEC §14).
 */
export function describeStatus(
	item: Pick<OutboundItem, 'status' | 'sentAt' | 'nextAttemptAt'>,
	wrong: boolean,
	method: SendMethod = PASSWORD_SMTP
): StatusWords {
	const taker = method.api ? providerName(method.provider) : 'The mailbox’s SMTP server';
	switch (item.status) {
		case 'queued':
			return { tone: '', title: 'Queued.', text: `It leaves through ${method.api ? theApi(method.provider) : 'the mailbox’s SMTP server'} in a moment.` };
		case 'sending':
			return { tone: '', title: 'Sending now.', text: `${taker} is being asked to take it.` };
		case 'sent':
			return {
				tone: 'success',
				title: 'Sent.',
				text: `${taker} accepted it${item.sentAt ? ` at ${formatDateTime(item.sentAt)}` : ''}.`
			};
		case 'deferred':
			return {
				tone: 'warning',
				title: 'Not sent yet: it will be retried.',
				text: item.nextAttemptAt
					? `${describeNextTry(item.nextAttemptAt)}, by itself; Send now tries at once.`
					: 'It is tried again by itself; Send now tries at once.'
			};
		case 'failed':
			return wrong
				? { tone: 'error', title: 'Not sent: the address is wrong.', text: WRONG_ADDRESS_ADVICE }
				: { tone: 'error', title: 'Not sent.', text: 'It is not retried by itself: fix what the server said, then Retry.' };
		case 'bounced':
			return wrong
				? { tone: 'error', title: 'Bounced: the address is wrong.', text: WRONG_ADDRESS_ADVICE }
				: { tone: 'error', title: 'Bounced.', text: 'It was sent, then the receiving side returned it.' };
	}
}
