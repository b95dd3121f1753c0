/**
 * The sync engine (SPEC §6): replays the outbox in order when the network allows. Creates carry
 * client-generated ids, so a retried create never makes two records; updates carry the version
 * the draft was based on, so a server copy that moved on becomes a conflict the admin resolves,
 * never a silent overwrite. A refused operation marks its record and the queue goes on.
 */
import { ApiFailure } from '../api';
import { integrationSchema, type Integration } from '../schema/integration';
import { mailboxSchema, type Mailbox } from '../schema/mailbox';
import { webhookEventValues, type WebhookEventType } from '../schema/webhook';
import {
	storeOf,
	type Database,
	type Entity,
	type IntegrationDraft,
	type LocalIntegration,
	type LocalMailbox,
	type MailboxDraft,
	type OutboxOperation,
	type WebhookDraft
} from './db';
import { openSecret } from './secret';

/** What the engine needs from the network: the subset of `api` it calls. */
export interface Transport {
	createIntegration(input: { id: string; name: string }): Promise<Integration>;
	updateIntegration(id: string, input: { name?: string; webhook?: WebhookDraft | null; version?: number }): Promise<Integration>;
	deleteIntegration(id: string): Promise<unknown>;
	createMailbox(input: unknown): Promise<Mailbox>;
	updateMailbox(id: string, input: unknown): Promise<Mailbox>;
	deleteMailbox(id: string): Promise<unknown>;
}

/** First retry after a failed pass, doubled per consecutive failure up to the cap. */
export const RETRY_BASE_MS = 2_000;
export const RETRY_MAX_MS = 5 * 60_000;

/** The Web Lock every tab takes to replay the outbox or merge server lists, one at a time. */
const LOCK_NAME = 'mailgate-sync';

type AnyRecord = LocalIntegration | LocalMailbox;
type ServerCopy = Integration | Mailbox;
type Outcome = 'done' | 'refused' | 'retry-later';

export function mailboxDraftOf(mailbox: Mailbox): MailboxDraft {
	// The sign-in's state (account, when, reconnect) is the server's to say, not part of what the admin edits.
	// SPEC §15: the pause is the provider's doing, not a setting: never part of a draft.
	const { hasPassword: _hasPassword, oauth, pausedUntil: _pausedUntil, pauseReason: _pauseReason, ...smtp } = mailbox.smtp;
	return {
		integrationId: mailbox.integrationId,
		name: mailbox.name,
		description: mailbox.description,
		address: mailbox.address,
		smtp: { ...smtp, oauth: oauth ? { provider: oauth.provider } : null },
		manualForward: mailbox.manualForward
	};
}

export function integrationDraftOf(integration: Integration): IntegrationDraft {
	const webhook = integration.webhook;
	return { name: integration.name, webhook: webhook ? { url: webhook.url, events: orderedEvents(webhook.events) } : null };
}

/** Events in `webhookEventValues` order, once each, so that two drafts with the same events compare equal. */
export function orderedEvents(events: readonly WebhookEventType[]): WebhookEventType[] {
	return webhookEventValues.filter((event) => events.includes(event));
}

function sameWebhook(a: WebhookDraft | null, b: WebhookDraft | null): boolean {
	const ordered = (webhook: WebhookDraft | null) => webhook && { url: webhook.url, events: orderedEvents(webhook.events) };
	return canonical(ordered(a)) === canonical(ordered(b));
}

/** The draft a server copy stands for, in the shape the admin edits. */
export function draftOf(entity: Entity, copy: ServerCopy): IntegrationDraft | MailboxDraft {
	return entity === 'mailbox' ? mailboxDraftOf(copy as Mailbox) : integrationDraftOf(copy as Integration);
}

/**
 * Whether two drafts say the same thing (field order aside). A mailbox draft kept before SPEC §14
 * names no `smtp.sendVia` (its update leaves the method as it is), so it matches either method;
 * one kept before SPEC §15 names no `smtp.limits` (left as they are), so it matches any limits.
 */
export function sameDraft(a: IntegrationDraft | MailboxDraft, b: IntegrationDraft | MailboxDraft): boolean {
	const unnamed = (draft: IntegrationDraft | MailboxDraft, key: 'sendVia' | 'limits') => 'smtp' in draft && draft.smtp[key] === undefined;
	const left = (['sendVia', 'limits'] as const).filter((key) => unnamed(a, key) !== unnamed(b, key));
	return canonical(without(a, left)) === canonical(without(b, left));
}

function without(draft: IntegrationDraft | MailboxDraft, keys: readonly ('sendVia' | 'limits')[]): IntegrationDraft | MailboxDraft {
	if (!('smtp' in draft) || keys.length === 0) return draft;
	const smtp: Record<string, unknown> = { ...draft.smtp };
	for (const key of keys) delete smtp[key];
	return { ...draft, smtp: smtp as MailboxDraft['smtp'] };
}

function canonical(value: unknown): string {
	return JSON.stringify(value, (_key, inner: unknown) =>
		inner && typeof inner === 'object' && !Array.isArray(inner)
			? Object.fromEntries(Object.entries(inner).sort(([x], [y]) => x.localeCompare(y)))
			: inner
	);
}

/** A failure that the network or the server may get over by itself: try again later. */
export function isTransient(error: unknown): boolean {
	if (!(error instanceof ApiFailure)) return true;
	return error.status === 0 || error.status === 401 || error.status === 408 || error.status === 429 || error.status >= 500;
}

function serverCopy(entity: Entity, value: unknown): ServerCopy | null {
	const parsed = (entity === 'mailbox' ? mailboxSchema : integrationSchema).safeParse(value);
	return parsed.success ? parsed.data : null;
}

/** Web Locks where the browser has them (every tab shares the lock); otherwise just run. */
function webLock<T>(run: () => Promise<T>): Promise<T> {
	if (typeof navigator !== 'undefined' && navigator.locks) return navigator.locks.request(LOCK_NAME, run);
	return run();
}

/**
 * Another queue of changes the engine replays after the outbox, in the same pass, under the same
 * lock and backoff (replies: see replies.ts for why they keep their own queue).
 */
export interface SyncQueue {
	/** Sends what waits, in order; 'retry-later' after a failure that may pass. */
	drain(changed: () => void): Promise<'done' | 'retry-later'>;
	/** Puts back what a closed tab left in flight; true when anything changed. */
	recover(): Promise<boolean>;
}

export interface SyncEngineOptions {
	db: Database;
	transport: Transport;
	queues?: SyncQueue[];
	/** Called after every change the engine writes, so the pages re-read. */
	changed: () => void;
	/** Whether a pass makes sense now (online, signed in). Checked before each pass. */
	canSync?: () => boolean;
	/**
	 * Runs `run` while no other tab replays the outbox or merges server lists: two tabs sending
	 * the same update would make the second one a false conflict.
	 */
	exclusive?: <T>(run: () => Promise<T>) => Promise<T>;
}

export class SyncEngine {
	private readonly db: Database;
	private readonly transport: Transport;
	private readonly changed: () => void;
	private readonly canSync: () => boolean;
	private readonly queues: SyncQueue[];
	readonly exclusive: <T>(run: () => Promise<T>) => Promise<T>;
	private running: Promise<void> | null = null;
	private again = false;
	private failures = 0;
	private timer: ReturnType<typeof setTimeout> | null = null;
	/** True while the server refuses our credentials; the UI asks the admin to sign in. */
	unauthorized = false;
	lastError: string | null = null;

	constructor(options: SyncEngineOptions) {
		this.db = options.db;
		this.transport = options.transport;
		this.changed = options.changed;
		this.canSync = options.canSync ?? (() => true);
		this.queues = options.queues ?? [];
		this.exclusive = options.exclusive ?? webLock;
	}

	/** A retry is scheduled (after a failure), so periodic checks leave the backoff alone. */
	get retryScheduled(): boolean {
		return this.timer !== null;
	}

	/** Replays the outbox; concurrent calls join the running pass and trigger one more. */
	sync(): Promise<void> {
		if (this.running) {
			this.again = true;
			return this.running;
		}
		this.running = (async () => {
			do {
				this.again = false;
				if (!this.canSync()) return;
				// After a transient failure the backoff timer decides when to try again.
				if (!(await this.exclusive(() => this.pass()))) return;
			} while (this.again);
		})().finally(() => {
			this.running = null;
		});
		return this.running;
	}

	/** Retry now, forgetting the backoff (the `online` event, a manual "Sync now"). */
	nudge(): Promise<void> {
		this.failures = 0;
		this.stop();
		return this.sync();
	}

	stop(): void {
		if (this.timer) clearTimeout(this.timer);
		this.timer = null;
	}

	/**
	 * A record left "syncing" by a tab that closed mid-request is only waiting: nothing can be in
	 * flight while we hold the lock.
	 */
	recover(): Promise<void> {
		return this.exclusive(async () => {
			let changed = false;
			for (const entity of ['integration', 'mailbox'] as const) {
				const tx = this.db.transaction(storeOf(entity), 'readwrite');
				for (const record of (await tx.store.getAll()) as AnyRecord[]) {
					if (record.state === 'syncing') {
						record.state = 'local';
						await tx.store.put(record as never);
						changed = true;
					}
				}
				await tx.done;
			}
			for (const queue of this.queues) if (await queue.recover()) changed = true;
			if (changed) this.changed();
		});
	}

	/** One pass over the outbox, in order. Returns false when the rest must wait for a retry. */
	private async pass(): Promise<boolean> {
		const operations = await this.db.getAll('outbox');
		for (const operation of operations) {
			const outcome = await this.send(operation);
			if (outcome === 'retry-later') {
				this.scheduleRetry();
				return false;
			}
			// 'refused' marks only its record; the operations of other records go on.
		}
		for (const queue of this.queues) {
			if ((await queue.drain(this.changed)) === 'retry-later') {
				this.scheduleRetry();
				return false;
			}
		}
		this.failures = 0;
		this.lastError = null;
		return true;
	}

	private scheduleRetry(): void {
		this.failures += 1;
		const delay = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** (this.failures - 1));
		this.stop();
		// Jitter keeps many tabs or devices from retrying in lockstep.
		this.timer = setTimeout(() => {
			this.timer = null;
			void this.sync();
		}, delay * (0.75 + Math.random() / 2));
	}

	private async send(operation: OutboxOperation): Promise<Outcome> {
		const store = storeOf(operation.entity);
		// Re-read both: since the pass began, the record may have been deleted or refused.
		const queued = await this.db.get('outbox', operation.seq!);
		if (!queued) return 'done';
		const record = (await this.db.get(store, operation.id)) as AnyRecord | undefined;
		if (!record) {
			await this.db.delete('outbox', operation.seq!);
			return 'done';
		}
		const revision = record.revision;
		await this.markSending(queued);
		try {
			const result = await this.request(queued, record);
			this.unauthorized = false;
			await this.settle(queued, result, revision);
			return 'done';
		} catch (error) {
			if (isTransient(error)) {
				this.unauthorized = error instanceof ApiFailure && error.status === 401;
				this.lastError = error instanceof Error ? error.message : String(error);
				await this.putBack(queued);
				return 'retry-later';
			}
			const failure = error as ApiFailure;
			if (queued.op === 'delete' && failure.status === 404) {
				// Already gone on the server: that is what the admin wanted.
				await this.settle(queued, null, revision);
				return 'done';
			}
			const current = failure.error.code === 'version_conflict' ? serverCopy(queued.entity, failure.error.current) : null;
			if (current && this.sentWhatServerHas(queued, record, current)) {
				// Our own earlier attempt landed but its answer was lost; the server holds our draft.
				await this.settle(queued, current, revision);
				return 'done';
			}
			await this.refuse(queued, failure, current, revision);
			return 'refused';
		}
	}

	/**
	 * The server copy equals the draft we sent, and nothing the copy cannot show (a new password)
	 * was part of it: a retried update whose first attempt went through.
	 */
	private sentWhatServerHas(operation: OutboxOperation, record: AnyRecord, current: ServerCopy): boolean {
		if (operation.op !== 'update') return false;
		if ('sealedPassword' in record && record.sealedPassword) return false;
		return sameDraft(record.draft, draftOf(operation.entity, current));
	}

	private async markSending(operation: OutboxOperation): Promise<void> {
		const store = storeOf(operation.entity);
		const tx = this.db.transaction([store, 'outbox'], 'readwrite');
		const outbox = tx.objectStore('outbox');
		if (await outbox.get(operation.seq!)) await outbox.put({ ...operation, sentAt: operation.sentAt ?? new Date().toISOString() });
		const records = tx.objectStore(store);
		const record = (await records.get(operation.id)) as AnyRecord | undefined;
		if (record) await records.put({ ...record, state: 'syncing' } as never);
		await tx.done;
		this.changed();
	}

	/** A transient failure: the operation stays queued (unless deleted meanwhile), the record waits. */
	private async putBack(operation: OutboxOperation): Promise<void> {
		const store = storeOf(operation.entity);
		const tx = this.db.transaction([store, 'outbox'], 'readwrite');
		const outbox = tx.objectStore('outbox');
		const queued = await outbox.get(operation.seq!);
		if (queued) await outbox.put({ ...queued, attempts: queued.attempts + 1 });
		const records = tx.objectStore(store);
		const record = (await records.get(operation.id)) as AnyRecord | undefined;
		if (record?.state === 'syncing') await records.put({ ...record, state: 'local' } as never);
		await tx.done;
		this.changed();
	}

	private async request(operation: OutboxOperation, record: AnyRecord): Promise<ServerCopy | null> {
		const { id } = operation;
		if (operation.entity === 'integration') {
			const draft = (record as LocalIntegration).draft;
			if (operation.op === 'create') {
				const created = await this.transport.createIntegration({ id, name: draft.name });
				// A webhook set before the integration reached the server follows in a second request;
				// a retried create whose first attempt set it already finds it there.
				if (!draft.webhook || sameWebhook(draft.webhook, integrationDraftOf(created).webhook ?? null)) return created;
				return this.transport.updateIntegration(id, { webhook: draft.webhook, version: created.version });
			}
			if (operation.op === 'update') {
				// The webhook goes only when it changed, so a rename never rewrites it (nor its secret).
				const server = (record as LocalIntegration).server;
				const webhookChanged =
					draft.webhook !== undefined && !sameWebhook(draft.webhook, server ? (integrationDraftOf(server).webhook ?? null) : null);
				return this.transport.updateIntegration(id, {
					name: draft.name,
					...(webhookChanged ? { webhook: draft.webhook } : {}),
					version: record.baseVersion ?? undefined
				});
			}
			await this.transport.deleteIntegration(id);
			return null;
		}
		const mailbox = record as LocalMailbox;
		if (operation.op === 'delete') {
			await this.transport.deleteMailbox(id);
			return null;
		}
		// The password is opened only to be sent; an update without one keeps the stored password.
		const password = mailbox.sealedPassword ? await openSecret(this.db, mailbox.sealedPassword) : undefined;
		const smtp = password ? { ...mailbox.draft.smtp, password } : mailbox.draft.smtp;
		if (operation.op === 'create') return this.transport.createMailbox({ id, ...mailbox.draft, smtp });
		return this.transport.updateMailbox(id, { ...mailbox.draft, smtp, version: record.baseVersion });
	}

	/** The server accepted the operation (or already had its result): record its copy. */
	private async settle(operation: OutboxOperation, result: ServerCopy | null, revision: number): Promise<void> {
		const store = storeOf(operation.entity);
		const tx = this.db.transaction([store, 'outbox'], 'readwrite');
		const outbox = tx.objectStore('outbox');
		await outbox.delete(operation.seq!);
		const records = tx.objectStore(store);
		const record = (await records.get(operation.id)) as AnyRecord | undefined;
		if (record) {
			if (operation.op === 'delete' || !result) {
				await records.delete(operation.id);
			} else {
				record.server = result as never;
				record.baseVersion = result.version;
				record.conflict = null;
				if (record.revision === revision && !record.deleted) {
					// Nothing changed locally while this was in flight: the server copy is the truth.
					record.state = 'synced';
					record.fieldErrors = {};
					record.message = null;
					record.draft = draftOf(operation.entity, result) as never;
					if ('sealedPassword' in record) record.sealedPassword = null;
				} else {
					// Edited (or deleted) while in flight: the newer draft still has to go.
					record.state = 'local';
					const left = await outbox.index('byRecord').count([operation.entity, operation.id]);
					if (left === 0) await outbox.add(nextOperation(operation.entity, record));
				}
				await records.put(record as never);
			}
		}
		await tx.done;
		this.changed();
	}

	/**
	 * The server refused the operation for a reason retrying cannot fix. The record keeps the
	 * admin's draft with the server's verdict; its other queued operations are dropped (they
	 * would act on a state the server never accepted) until the admin decides.
	 */
	private async refuse(operation: OutboxOperation, failure: ApiFailure, current: ServerCopy | null, revision: number): Promise<void> {
		const store = storeOf(operation.entity);
		const tx = this.db.transaction([store, 'outbox'], 'readwrite');
		const outbox = tx.objectStore('outbox');
		for (const key of await outbox.index('byRecord').getAllKeys([operation.entity, operation.id])) await outbox.delete(key);
		const records = tx.objectStore(store);
		const record = (await records.get(operation.id)) as AnyRecord | undefined;
		if (record?.deleted && failure.status === 404) {
			// Deleted here and gone there: nothing is left to decide.
			await records.delete(operation.id);
		} else if (record) {
			record.fieldErrors = {};
			record.message = failure.error.message;
			// Whatever was refused, the admin has to look at the record, so it shows in the list.
			const deleted = record.deleted;
			record.deleted = false;
			if (current) {
				// SPEC §6: the server copy changed meanwhile; the admin sees both and chooses.
				record.state = 'conflict';
				record.conflict = current as never;
			} else if (operation.op === 'update' && failure.status === 404) {
				// Deleted on another device. Saving again creates it anew (same id); Discard drops it.
				record.state = 'rejected';
				record.server = null;
				record.baseVersion = null;
				record.message = `${failure.error.message} It was deleted on another device: save to create it again, or discard it.`;
			} else if (record.revision !== revision && operation.op !== 'delete') {
				// Edited while in flight: the verdict was about an older draft; send the new one.
				record.state = 'local';
				record.message = null;
				record.deleted = deleted;
				await outbox.add(nextOperation(operation.entity, record));
			} else {
				// A refused delete, too, puts the record back in the list with the reason.
				record.state = 'rejected';
				record.fieldErrors = failure.fields;
			}
			await records.put(record as never);
		}
		await tx.done;
		this.changed();
	}
}

/** The operation that carries a record's current draft to the server. */
export function nextOperation(entity: Entity, record: AnyRecord): OutboxOperation {
	return {
		entity,
		id: record.id,
		op: record.deleted ? 'delete' : record.server ? 'update' : 'create',
		attempts: 0,
		enqueuedAt: new Date().toISOString()
	};
}
