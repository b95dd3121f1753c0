/**
 * What the admin sees follows the item (SPEC §16 "Statuses follow the item", "Lists stay live"):
 * a page that shows something that can still change reads it again by itself, quickly while it
 * moves (queued, sending, a retry due soon), slowly while it waits (so new items, a bounce or
 * a reply from another device still show), never while the tab is hidden or the browser offline.
 * Used by Sent mail, a reply's page, the message page's replies and the webhook deliveries.
 */
import { live } from '$lib/offline/live.svelte';
import type { OutboundItem, OutboundStatus } from '$lib/schema/outbound';

/** Statuses the queue consumer moves on from by itself, soon. */
export const MOVING: readonly OutboundStatus[] = ['queued', 'sending'];
/** How often a moving item is read again: a queue batch usually leaves in a second or two. */
export const FOLLOW_INTERVAL_MS = 2_000;
/**
 * How often a page reads again while nothing it shows moves: new items (the help desk's, another
 * device's), a bounce or a retry's outcome show within this, at one small request per page.
 */
export const IDLE_INTERVAL_MS = 10_000;
/**
 * A retry due within this is followed at FOLLOW_INTERVAL_MS; one further away (the retry tables
 * reach hours) at IDLE_INTERVAL_MS until it comes close.
 */
export const DUE_SOON_MS = 60_000;

/** How the next read should come: soon, at the idle pace, or not at all (everything settled). */
export type Pace = 'moving' | 'idle' | 'stop';

export interface Follower {
	/** Stops reading (call it when the page or component goes away). */
	stop(): void;
	/** Something changed here (a retry, Send now, a new reply): read soon again, even after 'stop'. */
	nudge(): void;
	/** Reads at once (unless offline or hidden), then goes on at the pace that read asks for. */
	readNow(): void;
}

/** Whether a retry at `at` (ISO time, or none) is due soon enough to follow closely. */
export function dueSoon(at: string | null, now = Date.now()): boolean {
	return at === null || Date.parse(at) - now <= DUE_SOON_MS;
}

/** The pace for outbound items: moving while one is queued, sending or due for a retry soon. */
export function paceOf(items: readonly Pick<OutboundItem, 'status' | 'nextAttemptAt'>[], now = Date.now()): 'moving' | 'idle' {
	return items.some((item) => MOVING.includes(item.status) || (item.status === 'deferred' && dueSoon(item.nextAttemptAt, now)))
		? 'moving'
		: 'idle';
}

const paused = () => !live.online || (typeof document !== 'undefined' && document.visibilityState === 'hidden');

/**
 * Calls `read` again and again, at the pace its last answer asked for (`first` before any).
 * Paused while offline or hidden; reads at once when the tab shows again or the connection is
 * back. A failed read keeps the pace it had: the next one tries again.
 */
export function keepReading(read: () => Promise<Pace>, first: Pace = 'moving'): Follower {
	let pace: Pace = first;
	let timer: ReturnType<typeof setTimeout> | undefined;
	let stopped = false;
	let reading = false;
	const schedule = () => {
		clearTimeout(timer);
		if (stopped || pace === 'stop') return;
		timer = setTimeout(tick, pace === 'moving' ? FOLLOW_INTERVAL_MS : IDLE_INTERVAL_MS);
	};
	const tick = async () => {
		if (stopped || reading) return;
		// Paused: `resume` starts again when the tab shows or the connection is back.
		if (paused()) return;
		reading = true;
		try {
			pace = await read();
		} catch {
			// A dropped request: the next read tries again.
		} finally {
			reading = false;
		}
		schedule();
	};
	const resume = () => {
		if (stopped || pace === 'stop' || paused()) return;
		clearTimeout(timer);
		void tick();
	};
	document.addEventListener('visibilitychange', resume);
	window.addEventListener('online', resume);
	schedule();
	return {
		stop() {
			stopped = true;
			clearTimeout(timer);
			document.removeEventListener('visibilitychange', resume);
			window.removeEventListener('online', resume);
		},
		nudge() {
			if (stopped) return;
			pace = 'moving';
			schedule();
		},
		readNow() {
			if (stopped) return;
			if (pace === 'stop') pace = 'moving';
			resume();
		}
	};
}
