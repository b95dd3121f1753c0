/**
 * SPEC §15: the SMTP test and the mail flow check's probe take one of the mailbox's session
 * slots too, so a test in a busy hour does not become the session too many. They wait up to
 * 15 seconds for one; then the answer is that the mailbox is busy sending.
 */
import type { StoredMailbox } from '../db/mailboxes';
import type { SendAttempt } from '../send/transport';
import type { Services } from '../services';
import { limitsFor } from './limits';

/** SPEC §15: how long the test and the probe wait for a session slot. */
export const SLOT_WAIT_MS = 15_000;
/** Longer than the test's or the probe's whole send (INTERACTIVE_TIMEOUTS' 14 s budget), so a live one keeps its slot. */
const INTERACTIVE_LEASE_MS = 60_000;
/** How often a waiting test asks again: a batch's session ends within seconds. */
const POLL_MS = 500;

export interface SlotOptions {
	waitMs?: number;
	clock?: () => number;
	sleep?: (ms: number) => Promise<void>;
}

/** A session slot (release it when done, failure or not), or null when none came free in time. */
export async function takeInteractiveSlot(
	services: Pick<Services, 'governor'>,
	mailbox: Pick<StoredMailbox, 'id' | 'smtp'>,
	options: SlotOptions = {}
): Promise<{ release(): Promise<void> } | null> {
	const clock = options.clock ?? Date.now;
	const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
	const holder = crypto.randomUUID();
	const limits = limitsFor(mailbox);
	const deadline = clock() + (options.waitMs ?? SLOT_WAIT_MS);
	for (;;) {
		const decision = await services.governor.acquireSession(mailbox.id, { holder, limits, leaseMs: INTERACTIVE_LEASE_MS });
		if (decision.go) return { release: () => services.governor.release(mailbox.id, { holder }) };
		const left = deadline - clock();
		if (left <= 0) return null;
		await sleep(Math.min(POLL_MS, decision.waitMs, left));
	}
}

/** No slot came free: nothing was sent, and trying again shortly will do. */
export function busyAttempt(mailbox: Pick<StoredMailbox, 'smtp'>, waitedMs = SLOT_WAIT_MS): SendAttempt {
	const { sessions } = limitsFor(mailbox);
	return {
		stage: 'connect',
		category: 'connection',
		hint: `The mailbox is busy sending replies: all its sessions (${sessions} at once) stayed in use for ${Math.round(waitedMs / 1000)} seconds, so nothing was sent. Try again in a minute.`,
		temporary: true,
		transcript: [],
		mayHaveArrived: false,
		refused: []
	};
}
