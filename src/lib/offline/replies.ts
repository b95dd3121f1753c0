/**
 * Replies written on an inbound message's page (SPEC §10 "In the app"): kept on this device
 * first, then sent by the sync engine with the other changes when the network allows (SPEC §6).
 * Each carries a client UUID, so a send retried after a lost answer returns the first outbound
 * message instead of making a second one.
 *
 * They live in their own database, not in `mailgate`'s outbox: a tab still running an app
 * version from before replies existed replays that outbox with an engine that knows only
 * integrations and mailboxes, and would drop a reply it found there as an operation whose record
 * is gone; and a new store in `mailgate` would need a version bump that waits on such a tab
 * (it holds the database open with no `versionchange` handler). Here old code never looks.
 */
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { ApiFailure } from '../api';
import type { OutboundItem, OutboundRequest } from '../schema/outbound';
import type { SyncState } from './db';
import { isTransient, type SyncQueue } from './sync';

/** What a reply asks the server to send (`POST /api/mailboxes/:id/outbound`), less the client id. */
export type ReplyDraft = Pick<OutboundRequest, 'to' | 'subject' | 'text' | 'inReplyTo'>;

/**
 * SPEC §6 states, as a reply goes through them: saved on this device (`local`), on its way
 * (`syncing`), accepted by the server and queued for sending (`synced`), or refused with the
 * server's field errors (`rejected`). A reply has no versions, so never a conflict.
 */
export type ReplyState = Exclude<SyncState, 'conflict'>;

export interface LocalReply {
	/** The client UUID sent as the request's `id`. */
	id: string;
	mailboxId: string;
	/** The inbound message answered (its email log id). */
	logId: string;
	draft: ReplyDraft;
	state: ReplyState;
	/** The outbound message the server made of it, once accepted. */
	server: OutboundItem | null;
	fieldErrors: Record<string, string>;
	/** The server's words when refused, or why the last try did not reach it. */
	message: string | null;
	/** Sends that did not reach the server (network, server errors). */
	attempts: number;
	createdAt: string;
	touchedAt: string;
}

/** The subset of `api` replies need. */
export interface ReplyTransport {
	createOutbound(mailboxId: string, input: OutboundRequest): Promise<OutboundItem>;
}

/**
 * How long a reply the server accepted stays listed on its message's page: as long as the
 * email log keeps the message it answers (SPEC §5.7). Sent mail has it on the server after that.
 */
export const KEEP_SENT_REPLIES_MS = 30 * 24 * 60 * 60_000;

interface RepliesDB extends DBSchema {
	replies: { key: string; value: LocalReply; indexes: { byCreatedAt: string } };
}

const NAME = 'mailgate-replies';
const VERSION = 1;

export type RepliesDatabase = IDBPDatabase<RepliesDB>;

export function openReplies(): Promise<RepliesDatabase> {
	return openDB<RepliesDB>(NAME, VERSION, {
		upgrade(db) {
			db.createObjectStore('replies', { keyPath: 'id' }).createIndex('byCreatedAt', 'createdAt');
		}
	});
}

const now = () => new Date().toISOString();
const waiting = (reply: LocalReply) => reply.state === 'local' || reply.state === 'syncing';

export class ReplyOutbox implements SyncQueue {
	constructor(
		private readonly db: RepliesDatabase,
		private readonly transport: ReplyTransport
	) {}

	/** Every reply on this device, oldest first. */
	all(): Promise<LocalReply[]> {
		return this.db.getAllFromIndex('replies', 'byCreatedAt');
	}

	async pendingCount(): Promise<number> {
		return (await this.all()).filter(waiting).length;
	}

	/**
	 * Keeps a reply to send: a new one, or a refused one edited (same id: the server never made
	 * a message of it). Replies the server accepted long ago are forgotten on the way.
	 */
	async save(reply: { id: string; mailboxId: string; logId: string; draft: ReplyDraft }): Promise<void> {
		const tx = this.db.transaction('replies', 'readwrite');
		const existing = await tx.store.get(reply.id);
		if (existing && existing.state !== 'rejected') throw new Error('This reply was sent already; write a new one.');
		await tx.store.put({
			...reply,
			state: 'local',
			server: null,
			fieldErrors: {},
			message: null,
			attempts: 0,
			createdAt: existing?.createdAt ?? now(),
			touchedAt: now()
		});
		const cutoff = Date.now() - KEEP_SENT_REPLIES_MS;
		for (const old of await tx.store.getAll()) {
			if (old.state === 'synced' && Date.parse(old.touchedAt) < cutoff) await tx.store.delete(old.id);
		}
		await tx.done;
	}

	/**
	 * Forgets a reply that waits or was refused. One already on its way may still reach the
	 * server; it then shows in Sent mail.
	 */
	async discard(id: string): Promise<void> {
		await this.db.delete('replies', id);
	}

	/** Forgets every reply on this device (sign-out: they hold customers' words and queued work). */
	async clear(): Promise<void> {
		await this.db.clear('replies');
	}

	/** A reply left "syncing" by a tab that closed mid-request is only waiting (we hold the sync lock). */
	async recover(): Promise<boolean> {
		let changed = false;
		const tx = this.db.transaction('replies', 'readwrite');
		for (const reply of await tx.store.getAll()) {
			if (reply.state === 'syncing') {
				await tx.store.put({ ...reply, state: 'local' });
				changed = true;
			}
		}
		await tx.done;
		return changed;
	}

	/**
	 * Sends the waiting replies, oldest first; `changed` after each step so the page shows it.
	 * 'retry-later' after a failure that may pass (the rest wait for the engine's backoff); a
	 * refused reply keeps the server's field errors and the others go on.
	 */
	async drain(changed: () => void): Promise<'done' | 'retry-later'> {
		for (const queued of (await this.all()).filter(waiting)) {
			const reply = await this.update(queued.id, (current) => (waiting(current) ? { state: 'syncing' } : null));
			if (!reply) continue;
			changed();
			try {
				const server = await this.transport.createOutbound(reply.mailboxId, { id: reply.id, ...reply.draft });
				await this.update(reply.id, () => ({ state: 'synced', server, fieldErrors: {}, message: null }));
			} catch (error) {
				if (isTransient(error)) {
					const message = error instanceof Error ? error.message : String(error);
					await this.update(reply.id, (current) => ({ state: 'local', message, attempts: current.attempts + 1 }));
					changed();
					return 'retry-later';
				}
				const failure = error as ApiFailure;
				await this.update(reply.id, () => ({
					state: 'rejected',
					fieldErrors: failure.fields,
					message: failure.error.message
				}));
			}
			changed();
		}
		return 'done';
	}

	/** Applies `change` to the stored reply (null: leave it); returns the result, or null when it is gone. */
	private async update(
		id: string,
		change: (current: LocalReply) => Partial<LocalReply> | null
	): Promise<LocalReply | null> {
		const tx = this.db.transaction('replies', 'readwrite');
		const current = await tx.store.get(id);
		const patch = current ? change(current) : null;
		const next = current && patch ? { ...current, ...patch, touchedAt: now() } : null;
		if (next) await tx.store.put(next);
		await tx.done;
		return next;
	}
}
