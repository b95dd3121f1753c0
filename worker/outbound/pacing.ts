/**
 * SPEC §15 for one invocation's replies of one mailbox: a session slot before the session opens,
 * a send from the mailbox's window before each message, and the replies the mailbox has no room
 * for held back (`queued` again, no attempt, back on the queue when their turn comes), in the
 * order they were queued. The governor (worker/governor/) keeps the counts across invocations.
 */
import type { StoredMailbox } from '../db/mailboxes';
import type { StoredOutbound } from '../db/outbound';
import { olderUnsent } from '../db/outbound-order';
import { limitsFor, replyOrder } from '../governor/limits';
import type { Decision } from '../governor/slots';
import { SENDING_LEASE_MS } from './lease';
import type { Services } from '../services';

/**
 * A turn this close is waited for in the invocation (the reply stays `sending`): a held reply
 * comes back on a queue message delayed in whole seconds and up to the batch timeout (2 s) late,
 * so holding it for less would only make it later.
 */
export const INLINE_WAIT_MAX_MS = 3_000;
/**
 * A session is held while its invocation sends; each send renews its lease for one message's
 * longest attempt (outbound/lease.ts), so an invocation that died frees its slot by then.
 */
const SESSION_LEASE_MS = SENDING_LEASE_MS;
/** An older reply in another invocation's hands is about to leave: look again this soon. */
const ORDER_POLL_MS = 250;

export interface PacingOptions {
	/** The provider's rate window (tests shorten it; limits.ts RATE_WINDOW_MS). */
	rateWindowMs?: number;
	sleep?: (ms: number) => Promise<void>;
	clock?: () => number;
}

export interface Pacing {
	/** A session slot for this invocation, or how long to wait for one. */
	session(): Promise<Decision>;
	/**
	 * This reply's send from the window, after every older reply of the mailbox has left (but
	 * `before`, the ones this invocation has in hand ahead of it), waiting in the invocation when
	 * its turn is close; `go: false`: hold it back.
	 */
	turn(outbound: StoredOutbound, before?: readonly StoredOutbound[]): Promise<Decision>;
	/** Keeps the places of replies put back (oldest first); how long until each one's turn (ms by id). */
	hold(replies: readonly StoredOutbound[], atLeastMs?: number): Promise<Record<string, number>>;
	/** Frees the session slot, and the places of the group's replies that were not held. */
	release(group: readonly StoredOutbound[]): Promise<void>;
}

export function pacingFor(services: Pick<Services, 'governor' | 'db'>, mailbox: StoredMailbox, options: PacingOptions = {}): Pacing {
	const { governor, db } = services;
	const clock = options.clock ?? Date.now;
	const limits = limitsFor(mailbox, options.rateWindowMs);
	const holder = crypto.randomUUID();
	const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
	const held = new Set<string>();
	return {
		session: () => governor.acquireSession(mailbox.id, { holder, limits, leaseMs: SESSION_LEASE_MS }),
		async turn(outbound, before = []) {
			const inHand = before.map((reply) => reply.id);
			const reply = { id: outbound.id, order: replyOrder(outbound) };
			const deadline = clock() + INLINE_WAIT_MAX_MS;
			for (;;) {
				const ahead = await olderUnsent(db, outbound, inHand);
				// An older reply held back comes back on the queue: this one goes after it, so it is held too.
				if (ahead === 'queued') return { go: false, waitMs: 0 };
				const decision: Decision = ahead ? { go: false, waitMs: ORDER_POLL_MS } : await governor.takeSend(mailbox.id, { holder, reply, limits, leaseMs: SESSION_LEASE_MS });
				if (decision.go || clock() + decision.waitMs > deadline) return decision;
				await sleep(decision.waitMs);
			}
		},
		async hold(replies, atLeastMs) {
			for (const outbound of replies) held.add(outbound.id);
			return governor.hold(mailbox.id, { replies: replies.map((outbound) => ({ id: outbound.id, order: replyOrder(outbound) })), limits, atLeastMs });
		},
		release: (group) => governor.release(mailbox.id, { holder, settled: group.filter((outbound) => !held.has(outbound.id)).map((outbound) => outbound.id) })
	};
}

/** Oldest first, as the replies were queued. */
export function inQueueOrder(a: StoredOutbound, b: StoredOutbound): number {
	const [x, y] = [replyOrder(a), replyOrder(b)];
	return x < y ? -1 : x > y ? 1 : 0;
}
