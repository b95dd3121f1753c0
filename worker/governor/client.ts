/**
 * The governor as the rest of the Worker sees it (services.ts `governor`): a narrow client of
 * the mailbox's Durable Object (mailbox-governor.ts), one call per question, the object named by
 * the mailbox's id.
 */
import type { Decision, Limits, Place } from './slots';

export interface Governor {
	/** A session slot for `holder`, or how long to wait for one. */
	acquireSession(mailboxId: string, input: { holder: string; limits: Limits; leaseMs: number }): Promise<Decision>;
	/** One send from the mailbox's window for `reply` now (renewing the holder's lease), or how long until its turn. */
	takeSend(mailboxId: string, input: { holder: string; reply: Place; limits: Limits; leaseMs: number }): Promise<Decision>;
	/** Replies put back without a send: each keeps its place; how long (ms) until each one's turn. */
	hold(mailboxId: string, input: { replies: Place[]; limits: Limits; atLeastMs?: number }): Promise<Record<string, number>>;
	/** Frees the holder's slot, and the places of replies it settled without a send. */
	release(mailboxId: string, input: { holder: string; settled?: string[] }): Promise<void>;
}

/** The Durable Object's methods, as its stub is called (Workers RPC). */
type GovernorStub = { [Method in keyof Governor]: (input: Parameters<Governor[Method]>[1]) => ReturnType<Governor[Method]> };

export function governorOf(namespace: DurableObjectNamespace): Governor {
	const stub = (mailboxId: string) => namespace.get(namespace.idFromName(mailboxId)) as unknown as GovernorStub;
	return {
		acquireSession: (mailboxId, input) => stub(mailboxId).acquireSession(input),
		takeSend: (mailboxId, input) => stub(mailboxId).takeSend(input),
		hold: (mailboxId, input) => stub(mailboxId).hold(input),
		release: (mailboxId, input) => stub(mailboxId).release(input)
	};
}
