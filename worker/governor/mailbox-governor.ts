/**
 * SPEC §15's governor: one Durable Object per mailbox (named by the mailbox's id) holding its
 * open sessions, its rolling window of sends and the replies told to wait (slots.ts decides).
 * Every consumer invocation, SMTP test and probe of the mailbox asks this one object, wherever
 * it runs, and the object handles one request at a time: the limit holds across invocations
 * running side by side. The state is kept in the object's storage after each change, so an
 * object evicted while idle comes back with its window and leases.
 */
import { DurableObject } from 'cloudflare:workers';
import { acquireSession, emptyState, hold, releaseSession, takeSend, type Decision, type GovernorState, type Limits, type Place } from './slots';

const STATE_KEY = 'state';

export class MailboxGovernor extends DurableObject {
	#state: GovernorState | null = null;

	async acquireSession(input: { holder: string; limits: Limits; leaseMs: number }): Promise<Decision> {
		const [state, decision] = acquireSession(await this.#load(), { ...input, now: Date.now() });
		await this.#save(state);
		return decision;
	}

	async takeSend(input: { holder: string; reply: Place; limits: Limits; leaseMs: number }): Promise<Decision> {
		const [state, decision] = takeSend(await this.#load(), { ...input, now: Date.now() });
		await this.#save(state);
		return decision;
	}

	async hold(input: { replies: Place[]; limits: Limits; atLeastMs?: number }): Promise<Record<string, number>> {
		const [state, waits] = hold(await this.#load(), { ...input, now: Date.now() });
		await this.#save(state);
		return waits;
	}

	async release(input: { holder: string; settled?: string[] }): Promise<void> {
		await this.#save(releaseSession(await this.#load(), input));
	}

	async #load(): Promise<GovernorState> {
		// Storage calls hold other requests back (the input gate), so no two requests interleave here.
		this.#state ??= (await this.ctx.storage.get<GovernorState>(STATE_KEY)) ?? emptyState();
		return this.#state;
	}

	async #save(state: GovernorState): Promise<void> {
		this.#state = state;
		await this.ctx.storage.put(STATE_KEY, state);
	}
}
