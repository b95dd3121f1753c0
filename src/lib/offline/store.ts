/**
 * The offline-first store the pages use: reads and writes go to IndexedDB first; the sync
 * engine carries them to the Worker when it can; a refresh brings the server's records in
 * without touching drafts that are not synced yet.
 */
import { api } from '../api';
import type { Integration } from '../schema/integration';
import type { Mailbox } from '../schema/mailbox';
import {
	openDatabase,
	type Database,
	type Entity,
	type IntegrationDraft,
	type LocalIntegration,
	type LocalMailbox,
	type MailboxDraft
} from './db';
import { sealSecret } from './secret';
import { SyncEngine, mailboxDraftOf } from './sync';

/** How often a page with pending changes checks again, beyond the `online` event. */
export const PERIODIC_SYNC_MS = 30_000;

type Listener = () => void;

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

export class OfflineStore {
	readonly engine: SyncEngine;
	private listeners = new Set<Listener>();
	private channel: BroadcastChannel | null = null;

	constructor(private readonly db: Database) {
		this.engine = new SyncEngine(db, api, () => this.emit());
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
		return all.filter((r) => !r.deleted).sort((a, b) => a.draft.name.localeCompare(b.draft.name));
	}

	async mailboxes(): Promise<LocalMailbox[]> {
		const all = await this.db.getAll('mailboxes');
		return all.filter((r) => !r.deleted).sort((a, b) => a.draft.address.localeCompare(b.draft.address));
	}

	mailbox(id: string): Promise<LocalMailbox | undefined> {
		return this.db.get('mailboxes', id);
	}

	async pendingCount(): Promise<number> {
		return this.db.count('outbox');
	}

	/** Saves an integration locally and queues it; returns its id. */
	async saveIntegration(id: string | null, draft: IntegrationDraft): Promise<string> {
		const recordId = id ?? crypto.randomUUID();
		const tx = this.db.transaction('integrations', 'readwrite');
		const existing = await tx.store.get(recordId);
		const record: LocalIntegration = existing
			? { ...existing, draft, state: 'local', fieldErrors: {}, message: null, revision: existing.revision + 1, touchedAt: now() }
			: fresh<Integration, IntegrationDraft>(recordId, draft);
		await tx.store.put(record);
		await tx.done;
		await this.enqueue('integration', recordId, existing?.server ? 'update' : 'create');
		return recordId;
	}

	/** Saves a mailbox locally and queues it. An empty password keeps the stored (or drafted) one. */
	async saveMailbox(id: string | null, draft: MailboxDraft, password: string): Promise<string> {
		const recordId = id ?? crypto.randomUUID();
		const sealed = password ? await sealSecret(this.db, password) : null;
		const tx = this.db.transaction('mailboxes', 'readwrite');
		const existing = await tx.store.get(recordId);
		const record: LocalMailbox = existing
			? {
					...existing,
					draft,
					sealedPassword: sealed ?? existing.sealedPassword,
					state: 'local',
					fieldErrors: {},
					message: null,
					revision: existing.revision + 1,
					touchedAt: now()
				}
			: { ...fresh<Mailbox, MailboxDraft>(recordId, draft), sealedPassword: sealed };
		await tx.store.put(record);
		await tx.done;
		await this.enqueue('mailbox', recordId, existing?.server ? 'update' : 'create');
		return recordId;
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
		const store = entity === 'mailbox' ? 'mailboxes' : 'integrations';
		const tx = this.db.transaction(store, 'readwrite');
		const record = (await tx.store.get(id)) as LocalIntegration | LocalMailbox | undefined;
		if (!record?.conflict) return;
		const theirs = record.conflict;
		record.server = theirs as never;
		record.baseVersion = theirs.version;
		record.conflict = null;
		record.message = null;
		record.fieldErrors = {};
		if (choice === 'theirs') {
			record.draft = (entity === 'mailbox' ? mailboxDraftOf(theirs as Mailbox) : { name: (theirs as Integration).name }) as never;
			if ('sealedPassword' in record) record.sealedPassword = null;
			record.state = 'synced';
		} else {
			record.state = 'local';
			record.revision += 1;
		}
		await tx.store.put(record as never);
		await tx.done;
		if (choice === 'mine') await this.enqueue(entity, id, 'update');
		else this.emit();
	}

	/** Brings in the server's records; drafts waiting to sync are left as they are. */
	async refresh(): Promise<void> {
		const [integrations, mailboxes] = await Promise.all([api.listIntegrations(), api.listMailboxes()]);
		await this.merge('integrations', integrations, (i) => ({ name: i.name }));
		await this.merge('mailboxes', mailboxes, mailboxDraftOf);
		this.emit();
	}

	private async merge<S extends Integration | Mailbox>(
		store: 'integrations' | 'mailboxes',
		items: S[],
		draftOf: (item: S) => unknown
	): Promise<void> {
		const tx = this.db.transaction([store, 'outbox'], 'readwrite');
		const records = tx.objectStore(store);
		const pending = new Set((await tx.objectStore('outbox').getAll()).map((op) => op.id));
		const seen = new Set<string>();
		for (const item of items) {
			seen.add(item.id);
			const local = (await records.get(item.id)) as LocalIntegration | LocalMailbox | undefined;
			if (!local) {
				const record = { ...fresh(item.id, draftOf(item), item), baseVersion: item.version, state: 'synced' as const };
				await records.put((store === 'mailboxes' ? { ...record, sealedPassword: null } : record) as never);
			} else if (local.state === 'synced' && !pending.has(item.id)) {
				await records.put({ ...local, server: item, draft: draftOf(item), baseVersion: item.version } as never);
			}
		}
		// A synced record the server no longer has was deleted elsewhere.
		for (const local of (await records.getAll()) as Array<LocalIntegration | LocalMailbox>) {
			if (!seen.has(local.id) && local.server && local.state === 'synced' && !pending.has(local.id)) {
				await records.delete(local.id);
			}
		}
		await tx.done;
	}

	private async remove(entity: Entity, id: string): Promise<void> {
		const store = entity === 'mailbox' ? 'mailboxes' : 'integrations';
		const tx = this.db.transaction([store, 'outbox'], 'readwrite');
		const records = tx.objectStore(store);
		const record = (await records.get(id)) as LocalIntegration | LocalMailbox | undefined;
		if (!record) return;
		const outbox = tx.objectStore('outbox');
		for (const op of await outbox.index('byRecord').getAll([entity, id])) {
			if (record.state !== 'syncing') await outbox.delete(op.seq!);
		}
		if (!record.server && record.state !== 'syncing') {
			// Never reached the server: forgetting it locally is the whole delete.
			await records.delete(id);
		} else {
			await records.put({ ...record, deleted: true, state: 'local', revision: record.revision + 1 } as never);
			await outbox.add({ entity, id, op: 'delete', attempts: 0, enqueuedAt: now() });
		}
		await tx.done;
		this.emit();
		void this.engine.sync();
	}

	/**
	 * Queues an operation unless one already queued will carry the latest draft: a queued
	 * create or update reads the draft when it is sent, so edits coalesce.
	 */
	private async enqueue(entity: Entity, id: string, op: 'create' | 'update'): Promise<void> {
		const tx = this.db.transaction('outbox', 'readwrite');
		const queued = await tx.store.index('byRecord').getAll([entity, id]);
		const store = entity === 'mailbox' ? 'mailboxes' : 'integrations';
		const record = await this.db.get(store, id);
		const inFlight = record?.state === 'syncing';
		if (queued.length === 0 || inFlight) {
			await tx.store.add({ entity, id, op: queued.some((q) => q.op === 'create') ? 'update' : op, attempts: 0, enqueuedAt: now() });
		}
		await tx.done;
		this.emit();
		void this.engine.sync();
	}
}

let instance: Promise<OfflineStore> | null = null;

/** The app's one store; starts syncing on load, on `online`, and periodically while changes wait. */
export function offlineStore(): Promise<OfflineStore> {
	instance ??= openDatabase().then((db) => {
		const store = new OfflineStore(db);
		window.addEventListener('online', () => {
			void store.refresh().catch(() => {});
			void store.engine.nudge();
		});
		setInterval(async () => {
			if (navigator.onLine && (await store.pendingCount()) > 0) void store.engine.sync();
		}, PERIODIC_SYNC_MS);
		void store.engine.sync();
		return store;
	});
	return instance;
}
