/**
 * A message just queued (a reply, a retry) leaves the queue within seconds: the page follows it
 * until it is sent, refused or waiting for a retry, so the admin sees the outcome without
 * reloading.
 */
import { api } from '$lib/api';
import { live } from '$lib/offline/live.svelte';
import { outboundItemSchema, type OutboundDetail, type OutboundItem, type OutboundStatus } from '$lib/schema/outbound';

/** Statuses the queue consumer moves on from by itself, soon. */
export const MOVING: readonly OutboundStatus[] = ['queued', 'sending'];
/** How often a moving message is read again: a batch usually leaves in a second or two. */
export const FOLLOW_INTERVAL_MS = 2_000;
/**
 * How long a page keeps asking: longer than one SMTP session may take (15 s limits per step in
 * worker/smtp/limits.ts, a few steps) with a queue's batch delay on top.
 */
export const FOLLOW_LIMIT_MS = 2 * 60_000;

/**
 * Reads message `id` every FOLLOW_INTERVAL_MS while it is queued or sending, handing each newer
 * copy to `onchange`. Returns the function that stops following (call it on unmount).
 */
export function followStatus(id: string, onchange: (detail: OutboundDetail) => void): () => void {
	const started = Date.now();
	let timer: ReturnType<typeof setTimeout> | undefined;
	let stopped = false;
	const tick = async () => {
		if (stopped) return;
		if (live.online) {
			try {
				const detail = await api.getOutbound(id);
				if (stopped) return;
				onchange(detail);
				if (!MOVING.includes(detail.status)) return;
			} catch {
				// A dropped request: the next tick tries again.
			}
		}
		if (Date.now() - started < FOLLOW_LIMIT_MS) timer = setTimeout(tick, FOLLOW_INTERVAL_MS);
	};
	timer = setTimeout(tick, FOLLOW_INTERVAL_MS);
	return () => {
		stopped = true;
		clearTimeout(timer);
	};
}

/** The list item of a detail (its text, HTML and headers left out). */
export function itemOf(detail: OutboundDetail): OutboundItem {
	return outboundItemSchema.parse(detail);
}
