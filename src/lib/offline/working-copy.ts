/**
 * Issue 19 (SPEC §16 "Typing is never lost"): what one form has typed and not saved, kept on
 * this device from the first keystroke (`OfflineStore.keepWorkingCopy`) until it is saved or
 * discarded, and read back when the form opens again. Every form that keeps a working copy (a
 * mailbox, a webhook, an integration's new name) goes through one keeper per copy.
 */
import type { Expected, OfflineStore, WorkingCopy } from './store';

/** A kept copy as read back, with the typed password (if any) opened again. */
export type RestoredCopy<V> = WorkingCopy<V> & {
	password: string;
	/** A password was kept but cannot be opened on this device any more: it must be typed again. */
	passwordLost: boolean;
};

export class WorkingCopyKeeper<V extends object> {
	/** The writes asked for so far, one after another. */
	#writes: Promise<void> = Promise.resolve();

	/** `store`: where copies are kept; the app's one store unless a test passes its own. */
	constructor(
		readonly key: string,
		private readonly store: () => Promise<OfflineStore> = appStore
	) {}

	/** The copy kept under this key, or null (none, or this device's storage cannot be read). */
	async read(): Promise<RestoredCopy<V> | null> {
		try {
			return await (await this.store()).workingCopy<V>(this.key);
		} catch {
			return null;
		}
	}

	/** Keeps `values` (and a typed `password`, sealed apart) as what the form was opened on (`expected`) plus the typing. */
	keep(values: V, expected: Expected | null, password = ''): Promise<void> {
		const keptAt = new Date().toISOString();
		return this.#enqueue((store) => store.keepWorkingCopy<V>(this.key, { values, expected, keptAt }, password));
	}

	/** Forgets the copy (saved, or discarded). */
	drop(): Promise<void> {
		return this.#enqueue((store) => store.dropWorkingCopy(this.key));
	}

	/**
	 * One write at a time, in the order asked, so that a slower earlier write never lands over a
	 * later one (or over the drop after Save).
	 */
	#enqueue(write: (store: OfflineStore) => Promise<void>): Promise<void> {
		this.#writes = this.#writes
			.then(async () => write(await this.store()))
			.catch(() => {
				// No storage on this device (private mode, quota): the form still works, it just is not kept.
			});
		return this.#writes;
	}
}

/** The app's one store (loaded when first asked for, so that the keeper runs without Svelte in a test). */
async function appStore(): Promise<OfflineStore> {
	const { live } = await import('./live.svelte');
	return live.store();
}
