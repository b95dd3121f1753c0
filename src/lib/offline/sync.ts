/**
 * The sync engine (SPEC §6): replays the outbox in order when the network allows. Creates carry
 * client-generated ids, so a retried create never makes two records; updates carry the version
 * the draft was based on, so a server copy that moved on becomes a conflict the admin resolves,
 * never a silent overwrite. A refused operation marks its record and the queue goes on.
 */
import { ApiFailure } from '../api';
import type { Integration } from '../schema/integration';
import type { Mailbox } from '../schema/mailbox';
import type { Database, Entity, LocalIntegration, LocalMailbox, MailboxDraft, OutboxOperation } from './db';
import { openSecret } from './secret';

/** What the engine needs from the network: the subset of `api` it calls. */
export interface Transport {
	createIntegration(input: { id: string; name: string }): Promise<Integration>;
	updateIntegration(id: string, input: { name: string; version?: number }): Promise<Integration>;
	deleteIntegration(id: string): Promise<unknown>;
	createMailbox(input: unknown): Promise<Mailbox>;
	updateMailbox(id: string, input: unknown): Promise<Mailbox>;
	deleteMailbox(id: string): Promise<unknown>;
}

/** First retry after a failed pass, doubled per consecutive failure up to the cap. */
export const RETRY_BASE_MS = 2_000;
export const RETRY_MAX_MS = 5 * 60_000;

type Outcome = 'done' | 'refused' | 'retry-later';

export function mailboxDraftOf(mailbox: Mailbox): MailboxDraft {
	const { hasPassword: _hasPassword, ...smtp } = mailbox.smtp;
	return {
		integrationId: mailbox.integrationId,
		name: mailbox.name,
		description: mailbox.description,
		address: mailbox.address,
		smtp,
		manualForward: mailbox.manualForward
	};
}

/** A failure that the network or the server may get over by itself: try again later. */
function isTransient(error: unknown): boolean {
	if (!(error instanceof ApiFailure)) return true;
	return error.status === 0 || error.status === 401 || error.status === 408 || error.status === 429 || error.status >= 500;
}

export class SyncEngine {
	private running: Promise<void> | null = null;
	private again = false;
	private failures = 0;
	private timer: ReturnType<typeof setTimeout> | null = null;
	/** True while the server refuses our credentials; the UI asks the admin to sign in. */
	unauthorized = false;
	lastError: string | null = null;

	constructor(
		private readonly db: Database,
		private readonly transport: Transport,
		private readonly changed: () => void
	) {}

	/** Replays the outbox; concurrent calls join the running pass and trigger one more. */
	sync(): Promise<void> {
		if (this.running) {
			this.again = true;
			return this.running;
		}
		this.running = (async () => {
			do {
				this.again = false;
				await this.pass();
			} while (this.again);
		})().finally(() => {
			this.running = null;
		});
		return this.running;
	}

	/** Retry now (the `online` event, a manual "Sync now"). */
	nudge(): Promise<void> {
		this.failures = 0;
		if (this.timer) clearTimeout(this.timer);
		this.timer = null;
		return this.sync();
	}

	stop(): void {
		if (this.timer) clearTimeout(this.timer);
		this.timer = null;
	}

	private async pass(): Promise<void> {
		const operations = await this.db.getAll('outbox');
		const refused = new Set<string>();
		for (const operation of operations) {
			const key = `${operation.entity}:${operation.id}`;
			// An operation after a refused one for the same record would act on a state the
			// server never accepted; it waits for the admin's decision with it.
			if (refused.has(key)) continue;
			const outcome = await this.send(operation);
			if (outcome === 'retry-later') {
				this.scheduleRetry();
				return;
			}
			if (outcome === 'refused') refused.add(key);
		}
		this.failures = 0;
		this.lastError = null;
	}

	private scheduleRetry(): void {
		this.failures += 1;
		const delay = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** (this.failures - 1));
		if (this.timer) clearTimeout(this.timer);
		// Jitter keeps many tabs or devices from retrying in lockstep.
		this.timer = setTimeout(() => {
			this.timer = null;
			void this.sync();
		}, delay * (0.75 + Math.random() / 2));
	}

	private async send(operation: OutboxOperation): Promise<Outcome> {
		const store = operation.entity === 'mailbox' ? 'mailboxes' : 'integrations';
		const record = await this.db.get(store, operation.id);
		if (!record) {
			await this.db.delete('outbox', operation.seq!);
			return 'done';
		}
		const revision = record.revision;
		await this.update(operation.entity, operation.id, (r) => {
			r.state = 'syncing';
		});
		try {
			const result = await this.request(operation, record);
			this.unauthorized = false;
			await this.settle(operation, result, revision);
			return 'done';
		} catch (error) {
			if (isTransient(error)) {
				this.unauthorized = error instanceof ApiFailure && error.status === 401;
				this.lastError = error instanceof Error ? error.message : String(error);
				await this.db.put('outbox', { ...operation, attempts: operation.attempts + 1 });
				await this.update(operation.entity, operation.id, (r) => {
					r.state = 'local';
				});
				return 'retry-later';
			}
			await this.refuse(operation, error as ApiFailure);
			return 'refused';
		}
	}

	private async request(operation: OutboxOperation, record: LocalIntegration | LocalMailbox): Promise<Integration | Mailbox | null> {
		const { id } = operation;
		if (operation.entity === 'integration') {
			const draft = (record as LocalIntegration).draft;
			if (operation.op === 'create') return this.transport.createIntegration({ id, name: draft.name });
			if (operation.op === 'update') {
				return this.transport.updateIntegration(id, { name: draft.name, version: record.baseVersion ?? undefined });
			}
			await this.transport.deleteIntegration(id);
			return null;
		}
		const mailbox = record as LocalMailbox;
		if (operation.op === 'delete') {
			await this.transport.deleteMailbox(id);
			return null;
		}
		const password = mailbox.sealedPassword ? await openSecret(this.db, mailbox.sealedPassword) : undefined;
		const smtp = password ? { ...mailbox.draft.smtp, password } : mailbox.draft.smtp;
		if (operation.op === 'create') return this.transport.createMailbox({ id, ...mailbox.draft, smtp });
		return this.transport.updateMailbox(id, { ...mailbox.draft, smtp, version: record.baseVersion });
	}

	private async settle(operation: OutboxOperation, result: Integration | Mailbox | null, revision: number): Promise<void> {
		const store = operation.entity === 'mailbox' ? 'mailboxes' : 'integrations';
		const tx = this.db.transaction([store, 'outbox'], 'readwrite');
		await tx.objectStore('outbox').delete(operation.seq!);
		const records = tx.objectStore(store);
		const record = (await records.get(operation.id)) as LocalIntegration | LocalMailbox | undefined;
		if (record) {
			if (operation.op === 'delete' || !result) {
				await records.delete(operation.id);
			} else {
				record.server = result as never;
				record.baseVersion = result.version;
				record.conflict = null;
				if (record.revision === revision) {
					// Nothing changed locally while this was in flight: the server copy is the truth.
					record.state = 'synced';
					record.fieldErrors = {};
					record.message = null;
					record.draft = (operation.entity === 'mailbox' ? mailboxDraftOf(result as Mailbox) : { name: (result as Integration).name }) as never;
					if ('sealedPassword' in record) record.sealedPassword = null;
				} else {
					record.state = 'local';
				}
				await records.put(record as never);
			}
		}
		await tx.done;
		this.changed();
	}

	private async refuse(operation: OutboxOperation, failure: ApiFailure): Promise<void> {
		await this.db.delete('outbox', operation.seq!);
		if (operation.op === 'delete' && failure.status === 404) {
			// Already gone on the server: that is what the admin wanted.
			const store = operation.entity === 'mailbox' ? 'mailboxes' : 'integrations';
			await this.db.delete(store, operation.id);
			this.changed();
			return;
		}
		await this.update(operation.entity, operation.id, (record) => {
			if (failure.error.code === 'version_conflict' && failure.error.current) {
				record.state = 'conflict';
				record.conflict = failure.error.current as never;
				record.message = failure.error.message;
				return;
			}
			record.state = 'rejected';
			record.fieldErrors = failure.fields;
			record.message = failure.error.message;
			// A refused delete puts the record back in the list, with the reason.
			if (operation.op === 'delete') record.deleted = false;
		});
	}

	private async update(entity: Entity, id: string, change: (record: LocalIntegration | LocalMailbox) => void): Promise<void> {
		const store = entity === 'mailbox' ? 'mailboxes' : 'integrations';
		const tx = this.db.transaction(store, 'readwrite');
		const record = await tx.store.get(id);
		if (record) {
			change(record);
			await tx.store.put(record as never);
		}
		await tx.done;
		this.changed();
	}
}
