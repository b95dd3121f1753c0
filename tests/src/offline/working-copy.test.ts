/**
 * The working-copy keeper (src/lib/offline/working-copy.ts, issue 19 "Typing is never lost"):
 * writes land in the order they were asked for, whatever each one takes, and a device without
 * storage neither throws nor blocks the form.
 */
import { describe, expect, it } from 'vitest';
import type { OfflineStore, WorkingCopy } from '../../../src/lib/offline/store';
import { WorkingCopyKeeper } from '../../../src/lib/offline/working-copy';

/** The store's three working-copy calls over a Map, each write taking as long as `delays` says. */
function fakeStore(delays: number[] = []) {
	const kept = new Map<string, WorkingCopy<{ name: string }> & { password: string }>();
	const log: string[] = [];
	const wait = () => new Promise((resolve) => setTimeout(resolve, delays.shift() ?? 0));
	const store = {
		async keepWorkingCopy(key: string, copy: WorkingCopy<{ name: string }>, password = '') {
			log.push(`keep ${copy.values.name} start`);
			await wait();
			kept.set(key, { ...copy, password });
			log.push(`keep ${copy.values.name} end`);
		},
		async dropWorkingCopy(key: string) {
			log.push('drop start');
			await wait();
			kept.delete(key);
			log.push('drop end');
		},
		async workingCopy(key: string) {
			const copy = kept.get(key);
			return copy ? { ...copy, passwordLost: false } : null;
		}
	};
	return { kept, log, store: async () => store as unknown as OfflineStore };
}

describe('WorkingCopyKeeper', () => {
	it('writes one at a time in the order asked: a slow keep never lands over the drop after it', async () => {
		const { kept, log, store } = fakeStore([30, 0, 0]);
		const keeper = new WorkingCopyKeeper<{ name: string }>('integration-name:1', store);
		void keeper.keep({ name: 'Ac' }, null);
		void keeper.keep({ name: 'Acme' }, { revision: 2, baseVersion: 1 }, 'secret');
		await keeper.drop();
		expect(log).toEqual(['keep Ac start', 'keep Ac end', 'keep Acme start', 'keep Acme end', 'drop start', 'drop end']);
		expect(kept.size).toBe(0);
	});

	it('keeps the values with what the form was opened on and the typed password, and reads them back', async () => {
		const { store } = fakeStore();
		const keeper = new WorkingCopyKeeper<{ name: string }>('webhook:1', store);
		await keeper.keep({ name: 'Acme' }, { revision: 3, baseVersion: 2 }, 'typed');
		expect(await keeper.read()).toMatchObject({ values: { name: 'Acme' }, expected: { revision: 3, baseVersion: 2 }, password: 'typed', passwordLost: false });
		expect(await new WorkingCopyKeeper('webhook:2', store).read()).toBeNull();
	});

	it('without storage: reading gives null and writing neither throws nor stops later writes', async () => {
		let broken = true;
		const { kept, store } = fakeStore();
		const keeper = new WorkingCopyKeeper<{ name: string }>('mailbox:new', async () => {
			if (broken) throw new Error('IndexedDB is disabled');
			return store();
		});
		expect(await keeper.read()).toBeNull();
		await expect(keeper.keep({ name: 'Lost' }, null)).resolves.toBeUndefined();
		broken = false;
		await keeper.keep({ name: 'Kept' }, null);
		expect(kept.get('mailbox:new')?.values).toEqual({ name: 'Kept' });
	});
});
