/**
 * The app's IndexedDB (idb): drafts of integrations and mailboxes, the outbox of operations
 * waiting for the network, and the key that seals draft passwords (SPEC §6).
 */
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { Integration } from '../schema/integration';
import type { Mailbox, SmtpDraft } from '../schema/mailbox';
import type { WebhookEventType } from '../schema/webhook';

/** SPEC §6 states: saved locally, syncing, synced, conflict, rejected. */
export type SyncState = 'local' | 'syncing' | 'synced' | 'conflict' | 'rejected';

/** SPEC §11: where an integration's events go, as the admin edits it (events in `webhookEventValues` order). */
export type WebhookDraft = { url: string; events: WebhookEventType[] };
/**
 * `webhook`: null when the integration has none; absent from drafts an older version of the app
 * kept, which then leave the server's webhook as it is.
 */
export type IntegrationDraft = { name: string; webhook?: WebhookDraft | null };
/** The settings the admin edits: the SMTP password travels apart (sealed), and an OAuth sign-in is made, not edited (SPEC §12). */
export type MailboxDraft = Omit<Mailbox, 'id' | 'version' | 'createdAt' | 'updatedAt' | 'lastSmtpTest' | 'lastFlowCheck' | 'smtp'> & {
	smtp: SmtpDraft;
};

export interface LocalRecord<Server, Draft> {
	id: string;
	/** The last copy the server confirmed, or null before the first sync of a create. */
	server: Server | null;
	/** What the admin wants the record to be. */
	draft: Draft;
	/** The server version the draft was made from (null: never synced). */
	baseVersion: number | null;
	state: SyncState;
	/** Field errors from the server's last answer, keyed by dotted path. */
	fieldErrors: Record<string, string>;
	/** The server's words when the last operation was refused. */
	message: string | null;
	/** On a version conflict: the server's copy, shown beside the draft. */
	conflict: Server | null;
	/** A delete is waiting to be synced. */
	deleted: boolean;
	/**
	 * Bumped whenever the draft changes other than by this device's own sync: a local edit, a
	 * newer server copy pulled in, a conflict resolved. A sync that raced an edit sees it moved
	 * and does not mark the record synced; a form that loaded an older revision knows the record
	 * changed under it.
	 */
	revision: number;
	touchedAt: string;
}

export type LocalIntegration = LocalRecord<Integration, IntegrationDraft>;
export type LocalMailbox = LocalRecord<Mailbox, MailboxDraft> & {
	/** A new SMTP password waiting to be sent, sealed with the device key (never plain text). */
	sealedPassword: SealedSecret | null;
};

export type Entity = 'integration' | 'mailbox';

/** A password as stored on this device: AES-GCM under the device key (secret.ts seals and opens it). */
export interface SealedSecret {
	iv: Uint8Array<ArrayBuffer>;
	data: ArrayBuffer;
}

export interface OutboxOperation {
	seq?: number;
	entity: Entity;
	id: string;
	op: 'create' | 'update' | 'delete';
	attempts: number;
	enqueuedAt: string;
	/**
	 * Set when the request first leaves: from then on the server may have applied it even if no
	 * answer came back, so deleting the record locally is no longer the whole story.
	 */
	sentAt?: string;
}

/** The object store that holds an entity's records. */
export function storeOf(entity: Entity): 'integrations' | 'mailboxes' {
	return entity === 'mailbox' ? 'mailboxes' : 'integrations';
}

interface MailgateDB extends DBSchema {
	integrations: { key: string; value: LocalIntegration };
	mailboxes: { key: string; value: LocalMailbox };
	outbox: { key: number; value: OutboxOperation; indexes: { byRecord: [string, string] } };
	keys: { key: string; value: CryptoKey };
	meta: { key: string; value: unknown };
}

export type Database = IDBPDatabase<MailgateDB>;

const NAME = 'mailgate';
const VERSION = 1;

let opening: Promise<Database> | null = null;

export function openDatabase(): Promise<Database> {
	opening ??= openDB<MailgateDB>(NAME, VERSION, {
		upgrade(db) {
			db.createObjectStore('integrations', { keyPath: 'id' });
			db.createObjectStore('mailboxes', { keyPath: 'id' });
			const outbox = db.createObjectStore('outbox', { keyPath: 'seq', autoIncrement: true });
			outbox.createIndex('byRecord', ['entity', 'id']);
			db.createObjectStore('keys');
			db.createObjectStore('meta');
		}
	});
	return opening;
}
