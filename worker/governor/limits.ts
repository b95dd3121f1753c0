/**
 * A mailbox's limits as the governor applies them (SPEC §15): its provider's defaults
 * (`providerSendingLimits`, shared with the app), or the admin's `smtp.limits` overrides, over
 * a rolling window of a minute. Pure.
 */
import { providerSendingLimits } from '../../src/lib/schema/mailbox';
import type { StoredMailbox } from '../db/mailboxes';
import type { Limits } from './slots';

/** SPEC §15: a provider's rate is messages a minute ("no more than 30 messages in any 60 seconds"). */
export const RATE_WINDOW_MS = 60_000;
/**
 * The governor counts a send when it is taken, a moment before the provider counts it (when
 * the data arrives, after a new session's login or a large message's upload): the window is
 * kept this much longer than the provider's, so the provider never sees one send too many.
 */
export const SEND_MARGIN_MS = 2_000;

/** `rateWindowMs`: the provider's window (tests shorten it; the provider's is a minute). */
export function limitsFor(mailbox: Pick<StoredMailbox, 'smtp'>, rateWindowMs = RATE_WINDOW_MS): Limits {
	const defaults = providerSendingLimits(mailbox.smtp);
	const overrides = mailbox.smtp.limits;
	const perMinute = overrides?.perMinute ?? defaults.perMinute;
	return { sessions: overrides?.concurrent ?? defaults.concurrent, perWindow: perMinute, windowMs: rateWindowMs + SEND_MARGIN_MS };
}

/** The order replies were queued in, as a string that sorts that way (the row's creation, then its id). */
export function replyOrder(outbound: { createdAt: string; id: string }): string {
	return `${outbound.createdAt}|${outbound.id}`;
}
