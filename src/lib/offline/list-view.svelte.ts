/**
 * A server list read a page at a time by cursor (the email log, Sent mail) that stays readable
 * offline (SPEC §6): each first page is kept on this device, and when the browser is offline or
 * the server cannot be reached the copy is shown with the time it was loaded.
 */
import { untrack } from 'svelte';
import { ApiFailure } from '../api';
import { describeFailure } from '../format';
import type { CachedPage } from './log-cache';
import { live } from './live.svelte';
import { mergeNewest } from './merge-newest';

export type ListState =
	| { state: 'loading' }
	| { state: 'ready' }
	/** Showing the copy on this device: offline, or the server could not be reached. */
	| { state: 'stale'; offline: boolean; loadedAt: string; hasMore: boolean }
	| { state: 'uncached'; offline: boolean }
	/** The server refused the filters (422): `fieldErrors` says which. */
	| { state: 'invalid' }
	| { state: 'error'; error: unknown };

/** Where a list's pages come from and where its copy is kept. */
export interface ListSource<Item, Filters> {
	fetchPage(filters: Filters, cursor?: string | null): Promise<{ items: Item[]; nextCursor: string | null }>;
	readCopy(filters: Filters): Promise<CachedPage<Item> | null>;
	keepCopy(filters: Filters, page: { items: Item[]; hasMore: boolean }): Promise<void>;
}

export class ListView<Item extends { id: string }, Filters> {
	view: ListState = $state({ state: 'loading' });
	items: Item[] = $state.raw([]);
	nextCursor: string | null = $state(null);
	fieldErrors: Record<string, string> = $state({});
	loadingMore = $state(false);
	moreError = $state('');

	readonly #source: ListSource<Item, Filters>;
	/** Each search gets a number; answers to an older one are dropped. */
	#generation = 0;
	#filters: Filters | null = null;

	constructor(source: ListSource<Item, Filters>) {
		this.#source = source;
	}

	/**
	 * Called once while a page initialises: loads whenever the search (`key`, the filters as one
	 * string) changes, and again when the connection comes back while the copy is on screen.
	 */
	follow(filters: () => Filters, key: () => string): void {
		$effect(() => {
			void key();
			untrack(() => void this.load(filters()));
		});
		$effect(() => {
			if (live.online && untrack(() => this.showingCopy)) void this.reload();
		});
	}

	/** Whether the copy on this device is on screen (or none could be): worth reloading when back online. */
	get showingCopy(): boolean {
		return this.view.state === 'stale' || this.view.state === 'uncached';
	}

	/** Loads the first page for `filters` (a new search), or the copy on this device. */
	async load(filters: Filters): Promise<void> {
		const current = ++this.#generation;
		this.#filters = filters;
		this.view = { state: 'loading' };
		this.moreError = '';
		if (!live.online) {
			await this.#showCopy(current, filters, true);
			return;
		}
		try {
			const result = await this.#source.fetchPage(filters);
			if (current !== this.#generation) return;
			this.items = result.items;
			this.nextCursor = result.nextCursor;
			this.fieldErrors = {};
			this.view = { state: 'ready' };
			void this.#source.keepCopy(filters, { items: result.items, hasMore: result.nextCursor !== null }).catch(() => {
				// No copy on this device (private mode, quota): the list still works online.
			});
		} catch (error) {
			if (current !== this.#generation) return;
			if (error instanceof ApiFailure && error.status === 0) {
				await this.#showCopy(current, filters, !live.online);
				return;
			}
			this.items = [];
			this.nextCursor = null;
			if (error instanceof ApiFailure && error.status === 422) {
				this.fieldErrors = error.fields;
				this.view = { state: 'invalid' };
			} else {
				this.view = { state: 'error', error };
			}
		}
	}

	/** Loads the same search again (Try again, back online). */
	reload(): Promise<void> {
		return this.#filters === null ? Promise.resolve() : this.load(this.#filters);
	}

	async #showCopy(current: number, filters: Filters, offline: boolean): Promise<void> {
		const cached = await this.#source.readCopy(filters).catch(() => null);
		if (current !== this.#generation) return;
		this.fieldErrors = {};
		this.nextCursor = null;
		if (cached) {
			this.items = cached.items;
			this.view = { state: 'stale', offline, loadedAt: cached.loadedAt, hasMore: cached.hasMore };
		} else {
			this.items = [];
			this.view = { state: 'uncached', offline };
		}
	}

	/** The next page by cursor, appended. */
	async loadMore(): Promise<void> {
		if (!this.nextCursor || this.#filters === null) return;
		const current = this.#generation;
		this.loadingMore = true;
		this.moreError = '';
		try {
			const result = await this.#source.fetchPage(this.#filters, this.nextCursor);
			if (current !== this.#generation) return;
			this.items = [...this.items, ...result.items];
			this.nextCursor = result.nextCursor;
		} catch (error) {
			if (current !== this.#generation) return;
			this.moreError =
				error instanceof ApiFailure && error.status === 0
					? 'More could not be loaded: the server could not be reached. Check your connection and try again.'
					: describeFailure(error);
		} finally {
			this.loadingMore = false;
		}
	}

	/**
	 * SPEC §16 "Lists stay live": reads the first page of the search shown again and merges it in
	 * (new items on top, newer copies in place, pages loaded further down and the items in `keep`
	 * stay), keeping the copy on this device current. Returns the page read, or null when nothing
	 * was merged: no live list is on screen, or a new search or a reload started meanwhile (its
	 * answer wins).
	 */
	async readNewest(options: { timeOf: (item: Item) => string; keep?: ReadonlySet<string> }): Promise<{ items: Item[]; nextCursor: string | null } | null> {
		if (this.view.state !== 'ready' || this.#filters === null) return null;
		const current = this.#generation;
		const filters = this.#filters;
		const newest = await this.#source.fetchPage(filters);
		if (current !== this.#generation || this.view.state !== 'ready') return null;
		const merged = mergeNewest(this.items, this.nextCursor, newest, options);
		this.items = merged.items;
		this.nextCursor = merged.nextCursor;
		void this.#source.keepCopy(filters, { items: newest.items, hasMore: newest.nextCursor !== null }).catch(() => {
			// No copy on this device (private mode, quota): the list still works online.
		});
		return newest;
	}

	/** Puts a newer copy of one item in place (after an action on it, such as a retry). */
	replace(item: Item, same: (a: Item, b: Item) => boolean): void {
		this.items = this.items.map((existing) => (same(existing, item) ? item : existing));
	}
}
