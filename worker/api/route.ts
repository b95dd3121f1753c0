import type { Principal } from '../auth/authenticate';
import type { Services } from '../services';
import { HttpError } from './http';
/** An API key's reach (SPEC §11): its integration and that integration's mailboxes. */
export interface Scope {
	integrationId: string;
	mailboxIds: string[];
}

export interface RouteContext {
	request: Request;
	/** The bindings (D1, R2, the queues) and the Worker's settings, read once (worker/services.ts). */
	services: Services;
	params: Record<string, string>;
	/** The clock, injectable for tests. */
	now: () => Date;
	/** Work that goes on after the response (the ExecutionContext's waitUntil): the mail flow check's probe. */
	waitUntil: (promise: Promise<unknown>) => void;
	/**
	 * Whose request this is, always said (the router decides it from the route's `scope`): the
	 * admin reaches everything, an API key its integration's mailboxes. Lists narrow themselves to it.
	 */
	scope: Scope | 'admin';
	/** Who is calling: the admin, or which API key (the per-key rate limits count by it). */
	principal: Principal;
}

export type Handler = (context: RouteContext) => Promise<Response>;

/**
 * Who may call a route's method, named on every one (a route without it does not type-check):
 * `admin` only, or an API key too, reaching a list (its handler narrows it to the key's
 * mailboxes) or the record named by `:id`, owned through its mailbox.
 */
export type RouteScope = 'admin' | 'list' | 'mailbox' | 'message' | 'outbound';

/** A route's method: its handler and who may call it. */
export interface Endpoint {
	scope: RouteScope;
	handler: Handler;
}

/**
 * A list's `mailboxId` filter under a scope (SPEC §11): an API key may name only its own
 * mailboxes (another is a 404, `none` a 403), and without one sees all of its own.
 */
export function scopedMailboxes(scope: Scope | 'admin', mailboxId: string | null | undefined): { mailboxId?: string | null; mailboxIds?: string[] } {
	if (scope === 'admin') return { mailboxId };
	if (mailboxId === null) throw new HttpError(403, 'forbidden', 'An API key sees only its integration\'s mailboxes; mailboxId=none is for the admin.');
	if (mailboxId === undefined) return { mailboxIds: scope.mailboxIds };
	if (!scope.mailboxIds.includes(mailboxId)) throw new HttpError(404, 'not_found', 'No such mailbox.');
	return { mailboxId };
}
