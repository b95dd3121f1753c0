/**
 * The governor's pure core (worker/governor/slots.ts), as tables: sessions with leases that end,
 * a rolling window (never more than the limit in any span of its length, unlike a token bucket),
 * and replies that wait keeping their place, so newer ones never pass them.
 */
import { describe, expect, it } from 'vitest';
import { limitsFor, RATE_WINDOW_MS, SEND_MARGIN_MS } from '../../worker/governor/limits';
import { acquireSession, emptyState, hold, MIN_WAIT_MS, releaseSession, SESSION_RECHECK_MS, slotTime, takeSend, WAITER_GRACE_MS, type GovernorState, type Limits } from '../../worker/governor/slots';

const limits: Limits = { sessions: 2, perWindow: 3, windowMs: 60_000 };
const LEASE = 10_000;
const place = (n: number) => ({ id: `r${n}`, order: `2026-01-01T00:00:0${n}.000Z|r${n}` });

describe('sessions', () => {
	it.each([
		{ open: [], holder: 'a', go: true },
		{ open: ['x'], holder: 'a', go: true },
		{ open: ['x', 'y'], holder: 'a', go: false },
		// A holder that has a slot renews it.
		{ open: ['x', 'a'], holder: 'a', go: true }
	])('$open open, $holder asks: go $go', ({ open, holder, go }) => {
		const state: GovernorState = { ...emptyState(), sessions: Object.fromEntries(open.map((h) => [h, 1_000 + LEASE])) };
		const [next, decision] = acquireSession(state, { holder, now: 1_000, limits, leaseMs: LEASE });
		expect(decision).toEqual(go ? { go: true } : { go: false, waitMs: SESSION_RECHECK_MS });
		if (go) expect(next.sessions[holder]).toBe(1_000 + LEASE);
	});

	it('frees the slot of a holder whose lease ended (its invocation died), and on release', () => {
		let state = emptyState();
		[state] = acquireSession(state, { holder: 'a', now: 0, limits, leaseMs: LEASE });
		[state] = acquireSession(state, { holder: 'b', now: 0, limits, leaseMs: LEASE });
		expect(acquireSession(state, { holder: 'c', now: LEASE - 1, limits, leaseMs: LEASE })[1].go).toBe(false);
		expect(acquireSession(state, { holder: 'c', now: LEASE, limits, leaseMs: LEASE })[1].go).toBe(true);
		expect(acquireSession(releaseSession(state, { holder: 'a' }), { holder: 'c', now: 1, limits, leaseMs: LEASE })[1].go).toBe(true);
	});

	it('renews the lease of the holder at each send', () => {
		let state = emptyState();
		[state] = acquireSession(state, { holder: 'a', now: 0, limits, leaseMs: LEASE });
		[state] = takeSend(state, { holder: 'a', reply: place(1), now: 8_000, limits, leaseMs: LEASE });
		expect(state.sessions.a).toBe(18_000);
	});
});

describe('the rolling window', () => {
	it.each([
		{ sends: [], position: 0, at: 0 },
		{ sends: [1, 2], position: 0, at: 0 },
		{ sends: [1, 2, 3], position: 0, at: 60_001 },
		{ sends: [1, 2, 3], position: 2, at: 60_003 },
		// Past the sends taken: a window after the slot `perWindow` places ahead.
		{ sends: [1, 2, 3], position: 3, at: 120_001 },
		{ sends: [1], position: 1, at: 0 },
		{ sends: [1], position: 2, at: 60_001 },
		// In order: never before the one ahead of it.
		{ sends: [1], position: 3, at: 60_001 },
		{ sends: [1], position: 4, at: 60_001 },
		{ sends: [1], position: 5, at: 120_001 },
		{ sends: [1], position: 6, at: 120_001 }
	])('sends at $sends: place $position has room at $at', ({ sends, position, at }) => {
		expect(slotTime(sends, position, 0, limits)).toBe(at);
	});

	it('never lets more than the limit out in any span of the window, however the asks come', () => {
		let state = emptyState();
		const sent: number[] = [];
		// A reply asks every 700 ms for 5 minutes; a token bucket (burst 3, 3 a minute) would let 6 out in the first 61 s.
		for (let now = 0, n = 0; now < 300_000; now += 700, n++) {
			const reply = { id: `r${n}`, order: String(n).padStart(6, '0') };
			const [next, decision] = takeSend(state, { holder: 'a', reply, now, limits, leaseMs: LEASE });
			state = releaseSession(next, { holder: 'x', settled: [reply.id] });
			if (decision.go) sent.push(now);
		}
		for (const start of sent) expect(sent.filter((at) => at >= start && at < start + limits.windowMs).length).toBeLessThanOrEqual(3);
		expect(sent.length).toBeGreaterThanOrEqual(15);
	});

	it('tells a reply when the window has room for it', () => {
		let state = emptyState();
		for (const n of [1, 2, 3]) [state] = takeSend(state, { holder: 'a', reply: place(n), now: n * 1_000, limits, leaseMs: LEASE });
		const [, decision] = takeSend(state, { holder: 'a', reply: place(4), now: 10_000, limits, leaseMs: LEASE });
		expect(decision).toEqual({ go: false, waitMs: 61_000 - 10_000 });
		expect(takeSend(state, { holder: 'a', reply: place(4), now: 61_000, limits, leaseMs: LEASE })[1]).toEqual({ go: true });
	});

	it('has no rate when perWindow is null', () => {
		let state = emptyState();
		for (let n = 0; n < 100; n++) {
			const [next, decision] = takeSend(state, { holder: 'a', reply: { id: `r${n}`, order: `${n}` }, now: 0, limits: { ...limits, perWindow: null }, leaseMs: LEASE });
			expect(decision.go).toBe(true);
			state = next;
		}
	});
});

describe('replies keep their place', () => {
	it('a newer reply does not pass an older one told to wait, even with room; the older one goes first', () => {
		let state = emptyState();
		for (const n of [1, 2, 3]) [state] = takeSend(state, { holder: 'a', reply: { id: `s${n}`, order: `0|s${n}` }, now: 0, limits, leaseMs: LEASE });
		// r1 waits for the window (a minute); r2 comes after the window has room again, but r1 is not back yet.
		const [afterR1, waitR1] = takeSend(state, { holder: 'a', reply: place(1), now: 1_000, limits, leaseMs: LEASE });
		expect(waitR1).toEqual({ go: false, waitMs: 59_000 });
		const [afterR2, waitR2] = takeSend(afterR1, { holder: 'b', reply: place(2), now: 60_000, limits, leaseMs: LEASE });
		expect(waitR2).toEqual({ go: false, waitMs: MIN_WAIT_MS });
		const [afterR1Back, goR1] = takeSend(afterR2, { holder: 'a', reply: place(1), now: 60_500, limits, leaseMs: LEASE });
		expect(goR1).toEqual({ go: true });
		expect(takeSend(afterR1Back, { holder: 'b', reply: place(2), now: 61_000, limits, leaseMs: LEASE })[1]).toEqual({ go: true });
	});

	it('an older reply that never comes back stops holding newer ones once its place is given up', () => {
		const [state] = hold(emptyState(), { replies: [place(1)], now: 0, limits, atLeastMs: 2_000 });
		expect(takeSend(state, { holder: 'b', reply: place(2), now: 2_000 + WAITER_GRACE_MS - 1, limits, leaseMs: LEASE })[1].go).toBe(false);
		expect(takeSend(state, { holder: 'b', reply: place(2), now: 2_000 + WAITER_GRACE_MS, limits, leaseMs: LEASE })[1].go).toBe(true);
		// Or at once, when the invocation that claimed it settled it otherwise.
		expect(takeSend(releaseSession(state, { holder: 'a', settled: ['r1'] }), { holder: 'b', reply: place(2), now: 1, limits, leaseMs: LEASE })[1].go).toBe(true);
	});

	it('holds replies in queue order, each told its own turn in the window', () => {
		let state = emptyState();
		for (const n of [1, 2, 3]) [state] = takeSend(state, { holder: 'a', reply: { id: `s${n}`, order: `0|s${n}` }, now: n, limits, leaseMs: LEASE });
		// Handed over out of order: the turns follow the queue order.
		const [held, waits] = hold(state, { replies: [place(5), place(4), place(6), place(7)], now: 10, limits });
		expect(waits).toEqual({ r4: 60_001 - 10, r5: 60_002 - 10, r6: 60_003 - 10, r7: 120_001 - 10 });
		expect(Object.keys(held.waiting).sort()).toEqual(['r4', 'r5', 'r6', 'r7']);
	});

	it('replies held for a session are told to look again no sooner than asked', () => {
		const [, waits] = hold(emptyState(), { replies: [place(1), place(2)], now: 0, limits, atLeastMs: SESSION_RECHECK_MS });
		expect(waits).toEqual({ r1: SESSION_RECHECK_MS, r2: SESSION_RECHECK_MS });
	});
});

describe("a mailbox's limits", () => {
	const smtp = (overrides: Record<string, unknown>) => ({ smtp: { host: 'mail.example.net', auth: 'password', oauth: null, sendVia: 'smtp', limits: null, ...overrides } }) as never;
	it.each([
		{ name: 'Microsoft 365 SMTP by its host', mailbox: smtp({ host: 'smtp.office365.com' }), sessions: 3, perWindow: 30 },
		{ name: 'Microsoft Graph', mailbox: smtp({ host: 'smtp.office365.com', auth: 'oauth2', oauth: { provider: 'microsoft' }, sendVia: 'api' }), sessions: 4, perWindow: 30 },
		{ name: 'Google', mailbox: smtp({ host: 'smtp.gmail.com', auth: 'oauth2', oauth: { provider: 'google' } }), sessions: 2, perWindow: null },
		{ name: 'another server', mailbox: smtp({}), sessions: 2, perWindow: null },
		{ name: 'the admin\'s overrides', mailbox: smtp({ host: 'smtp.office365.com', limits: { concurrent: 1, perMinute: 10 } }), sessions: 1, perWindow: 10 },
		{ name: 'a rate override alone', mailbox: smtp({ limits: { perMinute: 5 } }), sessions: 2, perWindow: 5 }
	])('$name: $sessions sessions, $perWindow a minute', ({ mailbox, sessions, perWindow }) => {
		expect(limitsFor(mailbox)).toEqual({ sessions, perWindow, windowMs: RATE_WINDOW_MS + SEND_MARGIN_MS });
	});
});
