/**
 * One record opened from a server list (a logged message, an outbound message), readable offline
 * (SPEC §6): loaded live when the browser is online, its copy kept on this device; offline, or
 * when the server cannot be reached, the copy as last opened here, with the time it was loaded.
 */
import { ApiFailure } from '../api';

export type DetailLoad<T> =
	/** `loadedAt` is set when showing the copy on this device. */
	| { state: 'loaded'; value: T; loadedAt: string | null }
	/** The server does not have it (404). */
	| { state: 'missing' }
	/** Offline or unreachable, and it was never opened on this device. */
	| { state: 'offline' }
	| { state: 'failed'; error: unknown };

export interface DetailSource<T> {
	online: boolean;
	fetch(): Promise<T>;
	keepCopy(value: T): Promise<void>;
	readCopy(): Promise<{ detail: T; loadedAt: string } | null>;
}

export async function loadWithCopy<T>(source: DetailSource<T>): Promise<DetailLoad<T>> {
	if (source.online) {
		try {
			const value = await source.fetch();
			void source.keepCopy(value).catch(() => {
				// No copy on this device (private mode, quota): the page still works online.
			});
			return { state: 'loaded', value, loadedAt: null };
		} catch (error) {
			if (!(error instanceof ApiFailure && error.status === 0)) {
				return error instanceof ApiFailure && error.status === 404 ? { state: 'missing' } : { state: 'failed', error };
			}
		}
	}
	const cached = await source.readCopy().catch(() => null);
	return cached ? { state: 'loaded', value: cached.detail, loadedAt: cached.loadedAt } : { state: 'offline' };
}
