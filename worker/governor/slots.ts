/**
 * The governor's pure core (SPEC §15): one mailbox's open sessions, its rolling window of sends
 * and the replies told to wait, as a plain value, and the rules that answer "go" or "wait N ms".
 * The Durable Object (mailbox-governor.ts) keeps the state and calls these; nothing here does I/O
 * or reads a clock.
 *
 * - Sessions are counted with leases: a holder that dies frees its slot when the lease ends.
 * - Sends are a rolling window of timestamps, not a token bucket: a bucket whose burst equals the
 *   rate lets a full burst out at the start of a minute and nearly as much again before it ends,
 *   close to twice the rate in one 60-second span; a window never allows more than the limit in
 *   any span of its length.
 * - Replies go in the order they were queued: a reply told to wait keeps its place (a waiter with
 *   a lease), and a newer reply does not pass it while its place is kept, even when there is room.
 */

/** One mailbox's limits as the governor applies them (limits.ts makes them from the mailbox). */
export interface Limits {
	/** Sessions (or API requests) open at once. */
	sessions: number;
	/** Sends in any span of `windowMs`; null: no rate. */
	perWindow: number | null;
	windowMs: number;
}

export interface GovernorState {
	/** Open sessions: holder → when its lease ends (ms since the epoch). */
	sessions: Record<string, number>;
	/** When each send of the window was taken, oldest first. */
	sends: number[];
	/** Replies told to wait: id → their place (`order`), when they are expected back, when the place is given up. */
	waiting: Record<string, { order: string; eta: number; expiresAt: number }>;
}

export type Decision = { go: true } | { go: false; waitMs: number };

/** A reply as the governor orders it: `order` sorts as the replies were queued (limits.ts `replyOrder`). */
export interface Place {
	id: string;
	order: string;
}

/**
 * How long a waiting reply's place is kept after the time it was told: a held reply comes back
 * on a delayed queue message, which Cloudflare Queues delivers in whole seconds and up to the
 * batch timeout later; a reply not back by then (its invocation died, it was deleted) stops
 * holding the newer ones up.
 */
export const WAITER_GRACE_MS = 30_000;
/** Never tell a reply to wait less than this: a queue delay is whole seconds. */
export const MIN_WAIT_MS = 1_000;
/**
 * A reply held because every session is taken is told to look again this soon: sessions end
 * when a batch is done, which the governor cannot foresee (a batch of 25 replies takes seconds).
 */
export const SESSION_RECHECK_MS = 2_000;

export const emptyState = (): GovernorState => ({ sessions: {}, sends: [], waiting: {} });

/** Drops ended leases, sends out of the window and places given up. */
export function prune(state: GovernorState, now: number, windowMs: number): GovernorState {
	const sessions = Object.fromEntries(Object.entries(state.sessions).filter(([, until]) => until > now));
	const sends = state.sends.filter((at) => at > now - windowMs);
	const waiting = Object.fromEntries(Object.entries(state.waiting).filter(([, place]) => place.expiresAt > now));
	return { sessions, sends, waiting };
}

/** A session slot for `holder` (renewing its lease if it has one), or how long to wait for one. */
export function acquireSession(state: GovernorState, input: { holder: string; now: number; limits: Limits; leaseMs: number }): [GovernorState, Decision] {
	const { holder, now, limits, leaseMs } = input;
	const pruned = prune(state, now, limits.windowMs);
	const open = Object.keys(pruned.sessions).filter((other) => other !== holder).length;
	if (open >= limits.sessions) return [pruned, { go: false, waitMs: SESSION_RECHECK_MS }];
	return [{ ...pruned, sessions: { ...pruned.sessions, [holder]: now + leaseMs } }, { go: true }];
}

/** Frees the holder's slot, and the places of replies it settled otherwise than by a send. */
export function releaseSession(state: GovernorState, input: { holder: string; settled?: readonly string[] }): GovernorState {
	const { [input.holder]: _released, ...sessions } = state.sessions;
	const waiting = { ...state.waiting };
	for (const id of input.settled ?? []) delete waiting[id];
	return { ...state, sessions, waiting };
}

/**
 * One send for `reply` now, or how long until its turn. A send is taken when the window has
 * room and no older reply keeps a place ahead of it; otherwise the reply keeps (or takes) its
 * place and is told when its turn is expected. The holder's session lease is renewed.
 */
export function takeSend(
	state: GovernorState,
	input: { holder: string; reply: Place; now: number; limits: Limits; leaseMs: number }
): [GovernorState, Decision] {
	const { holder, reply, now, limits, leaseMs } = input;
	const pruned = prune(state, now, limits.windowMs);
	const sessions = holder in pruned.sessions ? { ...pruned.sessions, [holder]: now + leaseMs } : pruned.sessions;
	const eta = turnOf(pruned, reply, now, limits, 0);
	if (eta <= now) {
		const { [reply.id]: _done, ...waiting } = pruned.waiting;
		return [{ sessions, sends: [...pruned.sends, now], waiting }, { go: true }];
	}
	return [{ ...pruned, sessions, waiting: { ...pruned.waiting, [reply.id]: placeAt(reply, eta) } }, { go: false, waitMs: eta - now }];
}

/**
 * Replies put back without a send (their session could not be had, or an older one's turn came
 * first): each keeps its place and is told when to come back, no sooner than `atLeastMs`.
 */
export function hold(state: GovernorState, input: { replies: readonly Place[]; now: number; limits: Limits; atLeastMs?: number }): [GovernorState, Record<string, number>] {
	const { now, limits } = input;
	let next = prune(state, now, limits.windowMs);
	const waits: Record<string, number> = {};
	// Oldest first, so each one's turn counts the ones just placed ahead of it.
	for (const reply of [...input.replies].sort((a, b) => compare(a.order, b.order))) {
		const eta = turnOf(next, reply, now, limits, input.atLeastMs ?? 0);
		waits[reply.id] = eta - now;
		next = { ...next, waiting: { ...next.waiting, [reply.id]: placeAt(reply, eta) } };
	}
	return [next, waits];
}

/**
 * When `reply` may go: after every older waiting reply's turn, and when the window has a send
 * for it once those older ones have taken theirs. `now` when it may go at once.
 */
function turnOf(state: GovernorState, reply: Place, now: number, limits: Limits, atLeastMs: number): number {
	const ahead = Object.entries(state.waiting).filter(([id, place]) => id !== reply.id && compare(place.order, reply.order) < 0);
	const slot = slotTime(state.sends, ahead.length, now, limits);
	if (ahead.length === 0 && slot <= now && atLeastMs <= 0) return now;
	const afterOlder = Math.max(...ahead.map(([, place]) => place.eta), slot);
	return Math.max(afterOlder, now + Math.max(atLeastMs, MIN_WAIT_MS));
}

/**
 * When the window has room for the send `position` places from now (0: the next one): sends go
 * in order, each no earlier than the one before it and a full window after the send `perWindow`
 * places ahead of it (a send already taken, or one counted here).
 */
export function slotTime(sends: readonly number[], position: number, now: number, limits: Limits): number {
	const { perWindow, windowMs } = limits;
	if (perWindow === null) return now;
	const times = [...sends];
	let at = now;
	for (let i = 0; i <= position; i++) {
		const earlier = times[times.length - perWindow];
		at = Math.max(at, earlier === undefined ? now : earlier + windowMs);
		times.push(at);
	}
	return at;
}

function placeAt(reply: Place, eta: number) {
	return { order: reply.order, eta, expiresAt: eta + WAITER_GRACE_MS };
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
