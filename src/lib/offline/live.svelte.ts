/**
 * The offline store as reactive state for the pages: the lists, the number of changes waiting,
 * whether the browser is online and whether the server lists were ever pulled. Every change the
 * store announces (this tab, another tab, the sync engine) re-reads IndexedDB.
 */
import type { Entity, LocalIntegration, LocalMailbox } from './db';
import type { LocalReply } from './replies';
import { offlineStore, type OfflineStore } from './store';

/**
 * Online, a save waits this long for the server's verdict, so that a refusal shows on the form
 * at once; after it the draft simply stays queued, like any offline save.
 */
export const ONLINE_SAVE_WAIT_MS = 5_000;

const browser = typeof window !== 'undefined';

class Live {
	integrations: LocalIntegration[] = $state.raw([]);
	mailboxes: LocalMailbox[] = $state.raw([]);
	/** Replies on this device, oldest first. */
	replies: LocalReply[] = $state.raw([]);
	/** Operations waiting in the outbox, and replies not sent yet. */
	pending = $state(0);
	/** IndexedDB has been read once. */
	loaded = $state(false);
	/** This device pulled the server lists at least once, so an empty list is really empty. */
	hasServerCopy = $state(false);
	refreshing = $state(false);
	/** Why the last pull of the server lists failed (null when it worked). */
	refreshError: unknown = $state(null);
	online = $state(browser ? navigator.onLine : true);

	#store: Promise<OfflineStore> | null = null;
	#dirty = false;
	#reading: Promise<void> | null = null;
	#refreshing: Promise<void> | null = null;

	constructor() {
		if (!browser) return;
		window.addEventListener('offline', () => (this.online = false));
		window.addEventListener('online', () => {
			this.online = true;
			if (this.#store) void this.refresh();
		});
	}

	/** Opens the store (once), follows its changes and pulls the server lists. */
	store(): Promise<OfflineStore> {
		if (!this.#store) {
			this.#store = offlineStore().then((store) => {
				store.subscribe(() => void this.reload());
				return store;
			});
			void this.reload();
			void this.refresh();
		}
		return this.#store;
	}

	/** Re-reads IndexedDB; calls during a read are folded into one more read after it. */
	reload(): Promise<void> {
		this.#dirty = true;
		this.#reading ??= this.#read()
			.catch((error: unknown) => {
				// IndexedDB could not be opened (storage disabled, quota): say so instead of loading forever.
				this.refreshError = error;
				this.loaded = true;
			})
			.finally(() => (this.#reading = null));
		return this.#reading;
	}

	async #read(): Promise<void> {
		while (this.#dirty) {
			this.#dirty = false;
			const store = await this.store();
			const [integrations, mailboxes, replies, pending, hasServerCopy] = await Promise.all([
				store.integrations(),
				store.mailboxes(),
				store.replies(),
				store.pendingCount(),
				store.hasServerCopy()
			]);
			this.integrations = integrations;
			this.mailboxes = mailboxes;
			this.replies = replies;
			this.pending = pending;
			this.hasServerCopy = hasServerCopy;
			this.loaded = true;
		}
	}

	/** Pulls the server lists into the store (one pull at a time); failures are kept, not thrown. */
	refresh(): Promise<void> {
		this.#refreshing ??= (async () => {
			this.refreshing = true;
			try {
				await (await this.store()).refresh();
				this.refreshError = null;
			} catch (error) {
				this.refreshError = error;
			} finally {
				this.refreshing = false;
			}
		})().finally(() => (this.#refreshing = null));
		return this.#refreshing;
	}

	/** "Sync now": forget the backoff, send what waits, then pull the server lists. */
	async syncNow(): Promise<void> {
		await (await this.store()).engine.nudge();
		await this.refresh();
	}

	/**
	 * After a save: online, give the sync up to ONLINE_SAVE_WAIT_MS to reach the server, then
	 * return the record as it stands (undefined once a delete went through).
	 */
	async settle(entity: Entity, id: string): Promise<LocalIntegration | LocalMailbox | undefined> {
		const store = await this.#waitForSync();
		return store.record(entity, id);
	}

	/** The same after a reply: online, wait up to ONLINE_SAVE_WAIT_MS for it to reach the server. */
	async settleReply(): Promise<void> {
		await this.#waitForSync();
	}

	async #waitForSync(): Promise<OfflineStore> {
		const store = await this.store();
		if (this.online) {
			let timer: ReturnType<typeof setTimeout> | undefined;
			const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, ONLINE_SAVE_WAIT_MS)));
			await Promise.race([store.engine.sync(), timeout]);
			clearTimeout(timer);
		}
		await this.reload();
		return store;
	}

	/**
	 * Where the lists stand: still loading, ready to show (maybe empty), or unavailable (nothing
	 * on this device and the server could not be reached).
	 */
	get status(): 'loading' | 'ready' | 'unavailable' {
		if (!this.loaded) return 'loading';
		if (this.hasServerCopy || this.integrations.length > 0 || this.mailboxes.length > 0) return 'ready';
		if (this.refreshing || (this.online && !this.refreshError)) return 'loading';
		return 'unavailable';
	}
}

export const live = new Live();
