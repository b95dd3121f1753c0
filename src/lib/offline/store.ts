/**
 * The offline-first store the pages use: reads and writes go to IndexedDB first; the sync
 * engine carries them to the Worker when it can; a refresh brings the server's records in
 * without touching drafts that are not synced yet.
 */
import { api } from '../api';
import { readToken } from '../auth';
import type { Integration } from '../schema/integration';
import type { Mailbox } from '../schema/mailbox';
import {
	openDatabase,
	storeOf,
	type Database,
	type Entity,
	type IntegrationDraft,
	type LocalIntegration,
	type LocalMailbox,
	type MailboxDraft,
	type SealedSecret
} from './db';
import { ReplyOutbox, openReplies, type LocalReply, type ReplyDraft } from './replies';
import { openSecret, sealSecret } from './secret';
import { SyncEngine, draftOf, nextOperation, type Transport } from './sync';

/** How often an open app checks for changes that still wait, besides `online` and the backoff. */
export const PERIODIC_SYNC_MS = 30_000;
/** `meta` key: when this device last pulled the server lists (it has a copy, maybe empty). */
const LAST_REFRESH = 'lastRefreshAt';

type Listener = () => void;
type AnyRecord = LocalIntegration | LocalMailbox;

/**
 * What a form was loaded from. When the record changed since (another tab saved it, or a newer
 * server copy came in), the save is sent against the version the admin actually saw, so the
 * server answers with a conflict instead of the save silently replacing the newer copy.
 */
export interface Expected {
	revision: number;
	baseVersion: number | null;
}

export interface Saved {
	id: string;
	revision: number;
}

const now = () => new Date().toISOString();

function fresh<S, T>(id: string, draft: T, server: S | null = null) {
	return {
		id,
		server,
		draft,
		baseVersion: null as number | null,
		state: 'local' as const,
		fieldErrors: {},
		message: null,
		conflict: null,
		deleted: false,
		revision: 1,
		touchedAt: now()
	};
}

export interface OfflineStoreOptions {
	db: Database;
	/** Replies waiting to be sent and sent recently (their own database, see replies.ts). */
	replies?: ReplyOutbox | null;
	transport?: Transport & { listIntegrations(): Promise<Integration[]>; listMailboxes(): Promise<Mailbox[]> };
	canSync?: () => boolean;
}

export class OfflineStore {
	readonly engine: SyncEngine;
	private readonly db: Database;
	private readonly transport: NonNullable<OfflineStoreOptions['transport']>;
	private readonly replyOutbox: ReplyOutbox | null;
	private listeners = new Set<Listener>();
	private channel: BroadcastChannel | null = null;

	constructor({ db, replies = null, transport = api, canSync }: OfflineStoreOptions) {
		this.db = db;
		this.transport = transport;
		this.replyOutbox = replies;
		this.engine = new SyncEngine({ db, transport, canSync, queues: replies ? [replies] : [], changed: () => this.emit() });
		if (typeof BroadcastChannel !== 'undefined') {
			// Other tabs of the app hear about changes and re-read.
			this.channel = new BroadcastChannel('mailgate-store');
			this.channel.onmessage = () => this.emit(false);
		}
	}

	subscribe(listener: Listener): () => void {
		this.listeners.add(listener);
		return () => this.listeners.delete(listener);
	}

	private emit(broadcast = true): void {
		for (const listener of this.listeners) listener();
		if (broadcast) this.channel?.postMessage('changed');
	}

	async integrations(): Promise<LocalIntegration[]> {
		const all = await this.db.getAll('integrations');
		return all.filter((r) => !r.deleted).sort((a, b) => a.draft.name.localeCompare(b.draft.name, undefined, { sensitivity: 'base' }));
	}

	async mailboxes(): Promise<LocalMailbox[]> {
		const all = await this.db.getAll('mailboxes');
		return all.filter((r) => !r.deleted).sort((a, b) => a.draft.address.localeCompare(b.draft.address));
	}

	/** One record as stored, including one whose delete waits to be synced. */
	record(entity: Entity, id: string): Promise<AnyRecord | undefined> {
		return this.db.get(storeOf(entity), id) as Promise<AnyRecord | undefined>;
	}

	/** Changes waiting to reach the server: operations in the outbox and replies not sent yet. */
	async pendingCount(): Promise<number> {
		const [operations, replies] = await Promise.all([this.db.count('outbox'), this.replyOutbox?.pendingCount() ?? 0]);
		return operations + replies;
	}

	/** Replies on this device (waiting, refused, or accepted in the last 30 days), oldest first. */
	async replies(): Promise<LocalReply[]> {
		return (await this.replyOutbox?.all()) ?? [];
	}

	/**
	 * Keeps a reply on this device and queues it (SPEC §10: written offline, it leaves when the
	 * network returns). `id` is new for a new reply, the refused reply's own for an edit.
	 */
	async saveReply(reply: { id: string; mailboxId: string; logId: string; draft: ReplyDraft }): Promise<void> {
		if (!this.replyOutbox) throw new Error('Replies cannot be kept on this device (its storage could not be opened).');
		await this.replyOutbox.save(reply);
		this.emit();
		void this.engine.sync();
	}

	/** Forgets a reply that waits or was refused. */
	async discardReply(id: string): Promise<void> {
		await this.replyOutbox?.discard(id);
		this.emit();
	}

	/**
	 * What signing out would throw away: integrations and mailboxes whose draft is not on the
	 * server (waiting, refused or in conflict), forms with unsaved changes (issue 19), and replies
	 * not accepted by it.
	 */
	async unsyncedWork(): Promise<{ changes: number; replies: number }> {
		const [integrations, mailboxes, replies, metaKeys] = await Promise.all([
			this.db.getAll('integrations'),
			this.db.getAll('mailboxes'),
			this.replies(),
			this.db.getAllKeys('meta')
		]);
		const workingCopies = metaKeys.filter((key) => String(key).startsWith(WORKING_COPY)).length;
		return {
			changes: [...integrations, ...mailboxes].filter((record) => record.state !== 'synced').length + workingCopies,
			replies: replies.filter((reply) => reply.state !== 'synced').length
		};
	}

	/**
	 * Sign-out: forgets everything this device keeps for the admin, at once: drafts and the
	 * server copies beside them, sealed passwords and the key that sealed them, the outbox, and
	 * replies. A sync pass already in flight (here or in another tab) may write its answer back
	 * when it ends, so once it has (the sync lock is free) everything is cleared again, unless
	 * someone signed in meanwhile.
	 */
	async clearAll(): Promise<void> {
		this.engine.stop();
		await this.wipe();
		this.emit();
		void this.engine
			.exclusive(async () => {
				if (readToken() === null) await this.wipe();
			})
			.then(() => this.emit());
	}

	private async wipe(): Promise<void> {
		const stores = ['integrations', 'mailboxes', 'outbox', 'keys', 'meta'] as const;
		const tx = this.db.transaction([...stores], 'readwrite');
		await Promise.all([...stores.map((store) => tx.objectStore(store).clear()), tx.done]);
		await this.replyOutbox?.clear();
	}

	/**
	 * Keeps a form's unsaved values (issue 19) under `key` (e.g. "mailbox:new", "mailbox:ID"). A
	 * `password` is sealed before it is stored; an empty one keeps none.
	 */
	async keepWorkingCopy<V extends object>(key: string, copy: WorkingCopy<V>, password = ''): Promise<void> {
		const sealedPassword = password ? await sealSecret(this.db, password) : null;
		const kept: KeptWorkingCopy<V> = { ...copy, sealedPassword };
		await this.db.put('meta', kept, WORKING_COPY + key);
	}

	/**
	 * The unsaved values kept under `key`, with the typed password opened again; `passwordLost`
	 * when one was kept but cannot be opened (the device key is gone): the form asks for it again.
	 */
	async workingCopy<V extends object>(key: string): Promise<(WorkingCopy<V> & { password: string; passwordLost: boolean }) | null> {
		const kept = (await this.db.get('meta', WORKING_COPY + key)) as KeptWorkingCopy<V> | undefined;
		if (!kept || typeof kept !== 'object' || !('values' in kept)) return null;
		const { sealedPassword, ...copy } = kept;
		if (!sealedPassword) return { ...copy, password: '', passwordLost: false };
		try {
			return { ...copy, password: await openSecret(this.db, sealedPassword), passwordLost: false };
		} catch {
			return { ...copy, password: '', passwordLost: true };
		}
	}

	/** Forgets the unsaved values under `key` (saved, or discarded). */
	async dropWorkingCopy(key: string): Promise<void> {
		await this.db.delete('meta', WORKING_COPY + key);
	}

	/** Whether this device has pulled the server lists at least once (so an empty list is real). */
	async hasServerCopy(): Promise<boolean> {
		return (await this.db.get('meta', LAST_REFRESH)) !== undefined;
	}

	/**
	 * Saves an integration locally and queues it: a new one (`id` null), or a change to some of
	 * its fields (the name from the list, the webhook from its page), applied over the draft as
	 * stored, so that neither edit undoes the other.
	 */
	saveIntegration(id: string | null, change: Partial<IntegrationDraft>, expected?: Expected): Promise<Saved> {
		// A client-generated id makes the create idempotent: a retry names the same record.
		const recordId = id ?? crypto.randomUUID();
		return this.write('integration', recordId, (existing) =>
			existing
				? edited(existing, { ...(existing.draft as IntegrationDraft), ...change }, expected)
				: fresh<Integration, IntegrationDraft>(recordId, { name: change.name ?? '', webhook: change.webhook ?? null })
		);
	}

	/**
	 * Saves a mailbox locally and queues it. The password is sealed before it is stored; an
	 * empty one keeps the stored (or already drafted) password. `smtpTestReceipt` (issue 19) goes
	 * with the create, so that a passing test of these settings is kept with the mailbox.
	 */
	async saveMailbox(id: string | null, draft: MailboxDraft & { smtpTestReceipt?: string }, password: string, expected?: Expected): Promise<Saved> {
		const sealed = password ? await sealSecret(this.db, password) : null;
		const recordId = id ?? crypto.randomUUID();
		return this.write('mailbox', recordId, (existing) => {
			const mailbox = existing as LocalMailbox | undefined;
			return mailbox
				? { ...edited(mailbox, draft, expected), sealedPassword: sealed ?? mailbox.sealedPassword }
				: { ...fresh<Mailbox, MailboxDraft>(recordId, draft), sealedPassword: sealed };
		});
	}

	/**
	 * Writes a record and makes sure an operation will carry it, in one transaction. A queued
	 * operation reads the draft when it is sent, so it already carries this edit; one already
	 * in flight is followed up by the engine when it sees the revision moved.
	 */
	private async write(entity: Entity, id: string, change: (existing: AnyRecord | undefined) => AnyRecord): Promise<Saved> {
		const store = storeOf(entity);
		const tx = this.db.transaction([store, 'outbox'], 'readwrite');
		const records = tx.objectStore(store);
		const record = change((await records.get(id)) as AnyRecord | undefined);
		await records.put(record as never);
		const outbox = tx.objectStore('outbox');
		if ((await outbox.index('byRecord').count([entity, id])) === 0) await outbox.add(nextOperation(entity, record));
		await tx.done;
		this.emit();
		void this.engine.sync();
		return { id, revision: record.revision };
	}

	async deleteIntegration(id: string): Promise<void> {
		const users = (await this.mailboxes()).filter((m) => m.draft.integrationId === id);
		if (users.length > 0) {
			const what = users.length === 1 ? '1 mailbox uses' : `${users.length} mailboxes use`;
			throw new Error(`${what} this channel integration; move them to another integration or delete them first.`);
		}
		await this.remove('integration', id);
	}

	deleteMailbox(id: string): Promise<void> {
		return this.remove('mailbox', id);
	}

	/** Ends a conflict: keep the local draft (sent again over the server's version) or take theirs. */
	async resolveConflict(entity: Entity, id: string, choice: 'mine' | 'theirs'): Promise<void> {
		const store = storeOf(entity);
		const tx = this.db.transaction([store, 'outbox'], 'readwrite');
		const records = tx.objectStore(store);
		const record = (await records.get(id)) as AnyRecord | undefined;
		if (!record?.conflict) return;
		const theirs = record.conflict;
		record.server = theirs as never;
		record.baseVersion = theirs.version;
		record.conflict = null;
		record.message = null;
		record.fieldErrors = {};
		record.revision += 1;
		record.touchedAt = now();
		const outbox = tx.objectStore('outbox');
		if (choice === 'theirs') {
			record.draft = draftOf(entity, theirs) as never;
			if ('sealedPassword' in record) record.sealedPassword = null;
			record.state = 'synced';
		} else {
			record.state = 'local';
			if ((await outbox.index('byRecord').count([entity, id])) === 0) await outbox.add(nextOperation(entity, record));
		}
		await records.put(record as never);
		await tx.done;
		this.emit();
		if (choice === 'mine') void this.engine.sync();
	}

	/**
	 * Drops a refused draft: back to the server's copy, or gone when the server never had it.
	 * Only for refused records: they have nothing queued or in flight.
	 */
	async discard(entity: Entity, id: string): Promise<void> {
		const store = storeOf(entity);
		const tx = this.db.transaction(store, 'readwrite');
		const record = (await tx.store.get(id)) as AnyRecord | undefined;
		if (record?.state !== 'rejected') return;
		if (!record.server) {
			await tx.store.delete(id);
		} else {
			await tx.store.put({
				...record,
				draft: draftOf(entity, record.server),
				...('sealedPassword' in record ? { sealedPassword: null } : {}),
				state: 'synced',
				fieldErrors: {},
				message: null,
				revision: record.revision + 1,
				touchedAt: now()
			} as never);
		}
		await tx.done;
		this.emit();
	}

	/**
	 * Brings in the server's records; drafts waiting to sync, refused or in conflict are left as
	 * they are. Runs under the sync lock, so a list fetched before one of our own syncs landed
	 * cannot roll its result back.
	 */
	async refresh(): Promise<void> {
		await this.engine.exclusive(async () => {
			const [integrations, mailboxes] = await Promise.all([this.transport.listIntegrations(), this.transport.listMailboxes()]);
			await this.merge('integration', integrations);
			await this.merge('mailbox', mailboxes);
			await this.db.put('meta', now(), LAST_REFRESH);
		});
		this.emit();
	}

	private async merge(entity: Entity, items: Array<Integration | Mailbox>): Promise<void> {
		const store = storeOf(entity);
		const tx = this.db.transaction([store, 'outbox'], 'readwrite');
		const records = tx.objectStore(store);
		const outbox = tx.objectStore('outbox');
		const pending = new Set((await outbox.getAll()).filter((op) => op.entity === entity).map((op) => op.id));
		const seen = new Set<string>();
		for (const item of items) {
			seen.add(item.id);
			const local = (await records.get(item.id)) as AnyRecord | undefined;
			if (!local) {
				const record = { ...fresh(item.id, draftOf(entity, item), item), baseVersion: item.version, state: 'synced' as const };
				await records.put((entity === 'mailbox' ? { ...record, sealedPassword: null } : record) as never);
			} else if (local.state === 'synced' && !pending.has(item.id) && JSON.stringify(local.server) !== JSON.stringify(item)) {
				const newer = item.version !== local.baseVersion;
				await records.put({
					...local,
					server: item,
					draft: draftOf(entity, item),
					baseVersion: item.version,
					// A new version is a change an open form must know about (see Expected).
					revision: newer ? local.revision + 1 : local.revision
				} as never);
			}
		}
		// A synced record the server no longer has was deleted elsewhere.
		for (const local of (await records.getAll()) as AnyRecord[]) {
			if (!seen.has(local.id) && local.server && local.state === 'synced' && !pending.has(local.id)) {
				await records.delete(local.id);
			}
		}
		await tx.done;
	}

	/**
	 * Deletes locally at once and queues the delete. A record the server never saw, with no
	 * request that may have reached it, is simply forgotten.
	 */
	private async remove(entity: Entity, id: string): Promise<void> {
		const store = storeOf(entity);
		const tx = this.db.transaction([store, 'outbox'], 'readwrite');
		const records = tx.objectStore(store);
		const record = (await records.get(id)) as AnyRecord | undefined;
		if (!record) return;
		const outbox = tx.objectStore('outbox');
		const queued = await outbox.index('byRecord').getAll([entity, id]);
		const mayBeOnServer = record.server !== null || queued.some((op) => op.sentAt);
		// Unsent operations are moot; one that may already be on its way stays ahead of the delete.
		for (const op of queued) if (!op.sentAt || !mayBeOnServer) await outbox.delete(op.seq!);
		if (!mayBeOnServer) {
			await records.delete(id);
		} else {
			const deleted = { ...record, deleted: true, state: 'local' as const, revision: record.revision + 1, touchedAt: now() };
			await records.put(deleted as never);
			await outbox.add(nextOperation(entity, deleted));
		}
		await tx.done;
		this.emit();
		void this.engine.sync();
	}
}

/** A local edit of an existing record: a new revision waiting to be synced. */
function edited<R extends AnyRecord>(existing: R, draft: R['draft'], expected: Expected | undefined): R {
	const stale =
		expected !== undefined &&
		existing.revision !== expected.revision &&
		expected.baseVersion !== null &&
		existing.baseVersion !== null &&
		expected.baseVersion < existing.baseVersion;
	return {
		...existing,
		draft,
		// Sent against what the admin saw, so the server reports the newer copy as a conflict.
		baseVersion: stale ? expected.baseVersion : existing.baseVersion,
		state: 'local',
		fieldErrors: {},
		message: null,
		conflict: null,
		revision: existing.revision + 1,
		touchedAt: now()
	};
}

/**
 * Issue 19 (SPEC §16 "Typing is never lost"): what an admin typed in a form and has not saved,
 * kept on this device from the first keystroke until it is saved or discarded. `values` never
 * holds a password: a typed one is sealed apart, like a draft's (secret.ts).
 */
export interface WorkingCopy<V> {
	values: V;
	/** What the form was opened on (see Expected), so a later save still meets a newer server copy as a conflict. */
	expected: Expected | null;
	keptAt: string;
}

/** As kept: the typed password (if any) sealed with the device key, never in plain text. */
interface KeptWorkingCopy<V> extends WorkingCopy<V> {
	sealedPassword: SealedSecret | null;
}

/** `meta` key prefix of working copies: cleared with the rest of `meta` on sign-out (`clearAll`). */
const WORKING_COPY = 'working:';

/** Online as far as the browser knows, and signed in: a sync pass may reach the server. */
function browserCanSync(): boolean {
	return navigator.onLine !== false && readToken() !== null;
}

let instance: Promise<OfflineStore> | null = null;

/** The app's one store; syncs on start, on `online`, and periodically while changes wait. */
export function offlineStore(): Promise<OfflineStore> {
	instance ??= Promise.all([
		openDatabase(),
		// Without the replies database the rest still works; replying then says why it cannot.
		openReplies().catch(() => null)
	]).then(([db, repliesDb]) => {
		const replies = repliesDb ? new ReplyOutbox(repliesDb, api) : null;
		const store = new OfflineStore({ db, replies, canSync: browserCanSync });
		// Not awaited: another tab may hold the sync lock through a slow request, and the lists
		// must not wait for it.
		void store.engine.recover();
		window.addEventListener('online', () => void store.engine.nudge());
		setInterval(async () => {
			if (browserCanSync() && !store.engine.retryScheduled && (await store.pendingCount()) > 0) void store.engine.sync();
		}, PERIODIC_SYNC_MS);
		void store.engine.sync();
		return store;
	});
	return instance;
}
