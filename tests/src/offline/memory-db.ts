/**
 * The app's IndexedDB (`mailgate`, src/lib/offline/db.ts) in memory, for Node: the part of idb's
 * API the sync engine and the secret box use (get, getAll, put, add, delete, count, the outbox's
 * `byRecord` index, transactions over one or more stores). Values are cloned going in and out, as
 * IndexedDB does, so code that changes what it read must put it back to change the store. It
 * records every write, so a test can say what was stored in what order.
 */
import type { Database } from '../../../src/lib/offline/db';

type Key = string | number;
type StoreName = 'integrations' | 'mailboxes' | 'outbox' | 'keys' | 'meta';

/** The object stores as db.ts creates them. */
const SCHEMA: Record<StoreName, { keyPath?: string; autoIncrement?: boolean; indexes?: Record<string, string[]> }> = {
	integrations: { keyPath: 'id' },
	mailboxes: { keyPath: 'id' },
	outbox: { keyPath: 'seq', autoIncrement: true, indexes: { byRecord: ['entity', 'id'] } },
	keys: {},
	meta: {}
};

/** CryptoKey cannot be cloned by structuredClone in Node; IndexedDB keeps it as it is. */
function clone<T>(value: T): T {
	return typeof CryptoKey !== 'undefined' && value instanceof CryptoKey ? value : structuredClone(value);
}

function compareKeys(a: Key, b: Key): number {
	return typeof a === 'number' && typeof b === 'number' ? a - b : String(a).localeCompare(String(b));
}

export class MemoryDatabase {
	readonly stores = new Map<StoreName, Map<Key, unknown>>(Object.keys(SCHEMA).map((name) => [name as StoreName, new Map()]));
	/** Every write, in order: `put integrations i-1`, `delete outbox 3`. */
	readonly writes: string[] = [];
	#nextSeq = 1;

	/** The same object, typed as the app's database. */
	get db(): Database {
		return this as unknown as Database;
	}

	async get(store: StoreName, key: Key): Promise<unknown> {
		const value = this.#store(store).get(key);
		return value === undefined ? undefined : clone(value);
	}

	async getAll(store: StoreName): Promise<unknown[]> {
		return this.#sorted(store).map(([, value]) => clone(value));
	}

	async getAllKeys(store: StoreName): Promise<Key[]> {
		return this.#sorted(store).map(([key]) => key);
	}

	async count(store: StoreName): Promise<number> {
		return this.#store(store).size;
	}

	async put(store: StoreName, value: unknown, key?: Key): Promise<Key> {
		const { keyPath, autoIncrement } = SCHEMA[store];
		let id = keyPath ? ((value as Record<string, Key>)[keyPath] as Key | undefined) : key;
		if (id === undefined && autoIncrement) {
			id = this.#nextSeq++;
			value = { ...(value as object), [keyPath!]: id };
		}
		if (id === undefined) throw new Error(`put into ${store} without a key`);
		if (typeof id === 'number' && autoIncrement) this.#nextSeq = Math.max(this.#nextSeq, id + 1);
		this.#store(store).set(id, clone(value));
		this.writes.push(`put ${store} ${id}`);
		return id;
	}

	async add(store: StoreName, value: unknown, key?: Key): Promise<Key> {
		const { keyPath } = SCHEMA[store];
		const id = keyPath ? (value as Record<string, Key>)[keyPath] : key;
		if (id !== undefined && this.#store(store).has(id)) throw new Error(`add into ${store}: key ${id} exists`);
		return this.put(store, value, key);
	}

	async delete(store: StoreName, key: Key): Promise<void> {
		if (this.#store(store).delete(key)) this.writes.push(`delete ${store} ${key}`);
	}

	async clear(store: StoreName): Promise<void> {
		this.#store(store).clear();
		this.writes.push(`clear ${store}`);
	}

	transaction(names: StoreName | StoreName[], _mode?: IDBTransactionMode) {
		const list = Array.isArray(names) ? names : [names];
		const objectStore = (name: StoreName) => {
			if (!list.includes(name)) throw new Error(`${name} is not in this transaction (${list.join(', ')})`);
			return this.#objectStore(name);
		};
		return { store: objectStore(list[0]!), objectStore, done: Promise.resolve() };
	}

	#objectStore(name: StoreName) {
		return {
			get: (key: Key) => this.get(name, key),
			getAll: () => this.getAll(name),
			getAllKeys: () => this.getAllKeys(name),
			count: () => this.count(name),
			put: (value: unknown, key?: Key) => this.put(name, value, key),
			add: (value: unknown, key?: Key) => this.add(name, value, key),
			delete: (key: Key) => this.delete(name, key),
			clear: () => this.clear(name),
			index: (index: string) => this.#index(name, index)
		};
	}

	#index(name: StoreName, index: string) {
		const path = SCHEMA[name].indexes?.[index];
		if (!path) throw new Error(`${name} has no index ${index}`);
		const matching = (query: Key[]) =>
			this.#sorted(name).filter(([, value]) => path.every((field, i) => (value as Record<string, unknown>)[field] === query[i]));
		return {
			count: async (query: Key[]) => matching(query).length,
			getAll: async (query: Key[]) => matching(query).map(([, value]) => clone(value)),
			getAllKeys: async (query: Key[]) => matching(query).map(([key]) => key)
		};
	}

	#store(name: StoreName): Map<Key, unknown> {
		const store = this.stores.get(name);
		if (!store) throw new Error(`no object store ${name}`);
		return store;
	}

	#sorted(name: StoreName): [Key, unknown][] {
		return [...this.#store(name).entries()].sort(([a], [b]) => compareKeys(a, b));
	}
}
