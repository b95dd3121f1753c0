/**
 * The sync engine's state machine (src/lib/offline/sync.ts, SPEC §6) in Node: the app's
 * IndexedDB in memory (memory-db.ts) and a server that keeps integrations by id and version,
 * answers as the Worker does (201/200, 404, 409 with its copy, 422), and can lose an answer
 * after it applied the request. Each test follows one record through its states:
 * local (queued) -> syncing -> synced, conflict, rejected, or back to local to wait for a retry.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiFailure } from '../../../src/lib/api';
import type { LocalIntegration, OutboxOperation, SyncState } from '../../../src/lib/offline/db';
import { RETRY_BASE_MS, RETRY_MAX_MS, SyncEngine, nextOperation, type Transport } from '../../../src/lib/offline/sync';
import type { Integration } from '../../../src/lib/schema/integration';
import { MemoryDatabase } from './memory-db';

const T0 = '2026-12-01T10:00:00.000Z';
const ids = { a: '00000000-0000-4000-8000-00000000000a', b: '00000000-0000-4000-8000-00000000000b' };

type Call = { method: keyof Transport; id: string; input?: unknown };

/**
 * The Worker's integrations, as far as the engine can tell: a create names its id (a repeated
 * one answers the record already there), an update carrying an older version is a 409 with the
 * server's copy, an unknown id a 404. `failNext` answers the next request with a failure instead
 * (`lost: true`: after applying it, as when the connection drops before the answer arrives).
 */
class FakeServer implements Transport {
	readonly records = new Map<string, Integration>();
	readonly calls: Call[] = [];
	/** Runs while a request is on its way (before the server answers). */
	during: ((call: Call) => Promise<void> | void) | null = null;
	#failures: { failure: ApiFailure; lost: boolean }[] = [];

	failNext(failure: ApiFailure, options: { lost?: boolean } = {}): void {
		this.#failures.push({ failure, lost: options.lost ?? false });
	}

	seed(id: string, name: string, version = 1): Integration {
		const record = { id, name, version, createdAt: T0, updatedAt: T0, webhook: null };
		this.records.set(id, record);
		return record;
	}

	createIntegration(input: { id: string; name: string }): Promise<Integration> {
		return this.#answer({ method: 'createIntegration', id: input.id, input }, () => this.records.get(input.id) ?? this.seed(input.id, input.name));
	}

	updateIntegration(id: string, input: { name?: string; version?: number }): Promise<Integration> {
		return this.#answer({ method: 'updateIntegration', id, input }, () => {
			const current = this.records.get(id);
			if (!current) throw new ApiFailure(404, { code: 'not_found', message: 'No such integration.' });
			if (input.version !== undefined && input.version !== current.version) {
				throw new ApiFailure(409, { code: 'version_conflict', message: 'It changed on the server.', current });
			}
			const next = { ...current, ...(input.name === undefined ? {} : { name: input.name }), version: current.version + 1 };
			this.records.set(id, next);
			return next;
		});
	}

	deleteIntegration(id: string): Promise<unknown> {
		return this.#answer({ method: 'deleteIntegration', id }, () => {
			if (!this.records.delete(id)) throw new ApiFailure(404, { code: 'not_found', message: 'No such integration.' });
			return null;
		});
	}

	createMailbox(): Promise<never> {
		throw new Error('not used here');
	}
	updateMailbox(): Promise<never> {
		throw new Error('not used here');
	}
	deleteMailbox(): Promise<never> {
		throw new Error('not used here');
	}

	async #answer<T>(call: Call, apply: () => T): Promise<T> {
		this.calls.push(call);
		await this.during?.(call);
		const failure = this.#failures.shift();
		if (failure && !failure.lost) throw failure.failure;
		const result = structuredClone(apply());
		if (failure) throw failure.failure;
		return result;
	}
}

const offline = () => new ApiFailure(0, { code: 'network', message: 'The server could not be reached. Check your connection.' });

let memory: MemoryDatabase;
let server: FakeServer;
let engine: SyncEngine;
let changes: number;

beforeEach(() => {
	memory = new MemoryDatabase();
	server = new FakeServer();
	changes = 0;
	engine = new SyncEngine({ db: memory.db, transport: server, changed: () => (changes += 1), exclusive: (run) => run() });
});

afterEach(() => {
	engine.stop();
	vi.useRealTimers();
	vi.restoreAllMocks();
});

/** Saves an integration on this device as the store does: the record, and an operation in the outbox if none waits. */
async function saveLocally(id: string, name: string): Promise<void> {
	const existing = (await memory.get('integrations', id)) as LocalIntegration | undefined;
	const record: LocalIntegration = existing
		? { ...existing, draft: { ...existing.draft, name }, state: 'local', message: null, revision: existing.revision + 1 }
		: integrationRecord(id, name, { server: null, baseVersion: null, state: 'local' });
	await memory.put('integrations', record);
	if ((await memory.db.transaction('outbox').store.index('byRecord').count(['integration', id])) === 0) {
		await memory.add('outbox', nextOperation('integration', record));
	}
}

/** An integration this device has in step with the server (pulled in by a refresh). */
async function synced(id: string, name: string, version = 1): Promise<void> {
	const copy = server.seed(id, name, version);
	await memory.put('integrations', integrationRecord(id, name, { server: copy, baseVersion: version, state: 'synced' }));
}

/** A first revision of an integration on this device; what differs between local and synced is given. */
function integrationRecord(id: string, name: string, fields: Pick<LocalIntegration, 'server' | 'baseVersion' | 'state'>): LocalIntegration {
	return { id, ...fields, draft: { name, webhook: null }, fieldErrors: {}, message: null, conflict: null, deleted: false, revision: 1, touchedAt: T0 };
}

async function deleteLocally(id: string): Promise<void> {
	const record = (await memory.get('integrations', id)) as LocalIntegration;
	const deleted = { ...record, deleted: true, state: 'local' as const, revision: record.revision + 1 };
	await memory.put('integrations', deleted);
	await memory.add('outbox', nextOperation('integration', deleted));
}

const record = async (id: string) => (await memory.get('integrations', id)) as LocalIntegration | undefined;
const stateOf = async (id: string): Promise<SyncState | undefined> => (await record(id))?.state;
const outbox = async () => (await memory.getAll('outbox')) as OutboxOperation[];

describe('a queued change reaches the server', () => {
	it('goes local -> syncing -> synced, and takes the server copy as the truth', async () => {
		await saveLocally(ids.a, 'Acme EU');
		expect(await stateOf(ids.a)).toBe('local');
		expect(await outbox()).toMatchObject([{ entity: 'integration', id: ids.a, op: 'create', attempts: 0 }]);

		const seen: { state?: SyncState; sentAt?: string }[] = [];
		server.during = async () => {
			seen.push({ state: await stateOf(ids.a), sentAt: (await outbox())[0]?.sentAt });
		};
		await engine.sync();

		// While the request was out: syncing, and the operation marked as sent (it may have landed).
		expect(seen).toEqual([{ state: 'syncing', sentAt: expect.any(String) }]);
		const after = await record(ids.a);
		expect(after).toMatchObject({ state: 'synced', baseVersion: 1, message: null, conflict: null, draft: { name: 'Acme EU', webhook: null } });
		expect(after?.server).toEqual(server.records.get(ids.a));
		expect(await outbox()).toEqual([]);
		expect(server.calls).toEqual([{ method: 'createIntegration', id: ids.a, input: { id: ids.a, name: 'Acme EU' } }]);
		expect(changes).toBeGreaterThanOrEqual(2);
	});

	it('sends an update against the version the draft was made from, and records the new version', async () => {
		await synced(ids.a, 'Acme EU', 4);
		await saveLocally(ids.a, 'Acme Europe');
		expect(await outbox()).toMatchObject([{ op: 'update' }]);
		await engine.sync();
		expect(server.calls).toEqual([{ method: 'updateIntegration', id: ids.a, input: { name: 'Acme Europe', version: 4 } }]);
		expect(await record(ids.a)).toMatchObject({ state: 'synced', baseVersion: 5, draft: { name: 'Acme Europe' } });
		expect(await outbox()).toEqual([]);
	});

	it('replays the outbox in order, one record after another', async () => {
		await saveLocally(ids.a, 'First');
		await saveLocally(ids.b, 'Second');
		await engine.sync();
		expect(server.calls.map((call) => call.id)).toEqual([ids.a, ids.b]);
		expect([await stateOf(ids.a), await stateOf(ids.b)]).toEqual(['synced', 'synced']);
	});

	it('keeps an edit made while the request was out: the record stays local and the newer draft follows', async () => {
		await saveLocally(ids.a, 'Acme');
		server.during = async (call) => {
			if (call.method === 'createIntegration') await saveLocally(ids.a, 'Acme, renamed meanwhile');
		};
		await engine.sync();
		// The answer was about an older draft: not synced, and an update waits to carry the newer one.
		expect(server.calls).toEqual([{ method: 'createIntegration', id: ids.a, input: { id: ids.a, name: 'Acme' } }]);
		expect(await record(ids.a)).toMatchObject({ state: 'local', baseVersion: 1, draft: { name: 'Acme, renamed meanwhile' } });
		expect(await outbox()).toMatchObject([{ op: 'update', id: ids.a, attempts: 0 }]);
		server.during = null;
		await engine.sync();
		expect(server.calls.at(-1)).toMatchObject({ method: 'updateIntegration', input: { name: 'Acme, renamed meanwhile', version: 1 } });
		expect(await record(ids.a)).toMatchObject({ state: 'synced', draft: { name: 'Acme, renamed meanwhile' } });
		expect(server.records.get(ids.a)?.name).toBe('Acme, renamed meanwhile');
		expect(await outbox()).toEqual([]);
	});

	it('deletes: the record goes once the server confirms, and a delete the server already did counts as done', async () => {
		await synced(ids.a, 'Going');
		await synced(ids.b, 'Gone elsewhere');
		server.records.delete(ids.b);
		await deleteLocally(ids.a);
		await deleteLocally(ids.b);
		await engine.sync();
		expect(await record(ids.a)).toBeUndefined();
		expect(await record(ids.b)).toBeUndefined();
		expect(server.records.has(ids.a)).toBe(false);
		expect(await outbox()).toEqual([]);
	});
});

describe('the server disagrees', () => {
	it('a version conflict keeps the draft beside the server copy for the admin to choose; the queue goes on', async () => {
		await synced(ids.a, 'Acme EU', 1);
		await saveLocally(ids.a, 'Mine');
		// Another device saved it meanwhile.
		const theirs = server.seed(ids.a, 'Theirs', 2);
		await saveLocally(ids.b, 'Other record');
		await engine.sync();
		const after = await record(ids.a);
		expect(after).toMatchObject({ state: 'conflict', draft: { name: 'Mine' }, message: 'It changed on the server.' });
		expect(after?.conflict).toEqual(theirs);
		// Never a silent overwrite, and nothing left queued for it until the admin decides.
		expect(server.records.get(ids.a)?.name).toBe('Theirs');
		expect((await outbox()).filter((op) => op.id === ids.a)).toEqual([]);
		expect(await stateOf(ids.b)).toBe('synced');
	});

	it('a refusal (422) marks only its record, with the field errors; its later operations are dropped', async () => {
		await saveLocally(ids.a, 'Refused');
		await saveLocally(ids.b, 'Accepted');
		server.failNext(new ApiFailure(422, { code: 'invalid', message: 'Some fields need attention.', fields: { name: 'Too long' } }));
		await engine.sync();
		expect(await record(ids.a)).toMatchObject({ state: 'rejected', fieldErrors: { name: 'Too long' }, message: 'Some fields need attention.' });
		expect(await stateOf(ids.b)).toBe('synced');
		expect(await outbox()).toEqual([]);
		expect(engine.retryScheduled).toBe(false);
	});

	it('an update of a record deleted on another device is rejected with a way back (save creates it anew)', async () => {
		await synced(ids.a, 'Acme');
		await saveLocally(ids.a, 'Acme renamed');
		server.records.delete(ids.a);
		await engine.sync();
		const after = await record(ids.a);
		expect(after).toMatchObject({ state: 'rejected', server: null, baseVersion: null });
		expect(after?.message).toContain('It was deleted on another device');
	});
});

describe('offline and failures that may pass', () => {
	it('sends nothing while it cannot sync (offline, signed out): the change stays queued', async () => {
		let online = false;
		engine = new SyncEngine({ db: memory.db, transport: server, changed: () => {}, canSync: () => online, exclusive: (run) => run() });
		await saveLocally(ids.a, 'Written offline');
		await engine.sync();
		expect(server.calls).toEqual([]);
		expect(await stateOf(ids.a)).toBe('local');
		expect(await outbox()).toHaveLength(1);
		online = true;
		await engine.nudge();
		expect(await stateOf(ids.a)).toBe('synced');
	});

	it('an unreachable server puts the change back (local, one attempt more), holds the queue and schedules a retry', async () => {
		await saveLocally(ids.a, 'First');
		await saveLocally(ids.b, 'Second');
		server.failNext(offline());
		await engine.sync();
		expect(await stateOf(ids.a)).toBe('local');
		expect(await stateOf(ids.b)).toBe('local');
		// Order matters (a create before its update): the second waits behind the first.
		expect(server.calls.map((call) => call.id)).toEqual([ids.a]);
		expect(await outbox()).toMatchObject([{ id: ids.a, attempts: 1, sentAt: expect.any(String) }, { id: ids.b, attempts: 0 }]);
		expect(engine.retryScheduled).toBe(true);
		expect(engine.lastError).toBe('The server could not be reached. Check your connection.');
		expect(engine.unauthorized).toBe(false);

		await engine.nudge();
		expect([await stateOf(ids.a), await stateOf(ids.b)]).toEqual(['synced', 'synced']);
		expect(engine.retryScheduled).toBe(false);
		expect(engine.lastError).toBeNull();
	});

	it('a refused sign-in (401) waits like an outage and says so, until a pass goes through', async () => {
		await saveLocally(ids.a, 'Acme');
		server.failNext(new ApiFailure(401, { code: 'unauthorized', message: 'Sign in again.' }));
		await engine.sync();
		expect(engine.unauthorized).toBe(true);
		expect(await stateOf(ids.a)).toBe('local');
		await engine.nudge();
		expect(engine.unauthorized).toBe(false);
		expect(await stateOf(ids.a)).toBe('synced');
	});

	it('retries by itself after a growing delay (doubled per failure, capped), and stops once it went through', async () => {
		vi.useFakeTimers();
		// No jitter: the delays are the table's exactly.
		vi.spyOn(Math, 'random').mockReturnValue(0.5);
		await saveLocally(ids.a, 'Acme');
		for (let i = 0; i < 3; i++) server.failNext(new ApiFailure(503, { code: 'unavailable', message: 'Try later.' }));
		await engine.sync();
		expect(server.calls).toHaveLength(1);

		for (const [attempt, delay] of [[2, RETRY_BASE_MS], [3, RETRY_BASE_MS * 2], [4, RETRY_BASE_MS * 4]] as const) {
			await vi.advanceTimersByTimeAsync(delay - 1);
			expect(server.calls).toHaveLength(attempt - 1);
			await vi.advanceTimersByTimeAsync(1);
			expect(server.calls).toHaveLength(attempt);
		}
		expect(await stateOf(ids.a)).toBe('synced');
		expect(engine.retryScheduled).toBe(false);
		await vi.advanceTimersByTimeAsync(RETRY_MAX_MS);
		expect(server.calls).toHaveLength(4);
	});

	it('never waits longer than RETRY_MAX_MS between tries', async () => {
		vi.useFakeTimers();
		vi.spyOn(Math, 'random').mockReturnValue(0.5);
		await saveLocally(ids.a, 'Acme');
		for (let i = 0; i < 20; i++) server.failNext(offline());
		await engine.sync();
		// 2 s doubled reaches the 5-minute cap at the 9th failure; from then on every try is 5 minutes apart.
		let elapsed = 0;
		for (let failures = 1; failures < 12; failures++) {
			const delay = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** (failures - 1));
			await vi.advanceTimersByTimeAsync(delay);
			elapsed += delay;
			expect(server.calls).toHaveLength(failures + 1);
		}
		expect(elapsed).toBeLessThan(12 * RETRY_MAX_MS);
	});

	it('a tab that closed mid-request leaves the record syncing; recover() puts it back to wait', async () => {
		await saveLocally(ids.a, 'Acme');
		await memory.put('integrations', { ...(await record(ids.a)), state: 'syncing' });
		await engine.recover();
		expect(await stateOf(ids.a)).toBe('local');
		await engine.sync();
		expect(await stateOf(ids.a)).toBe('synced');
	});
});

describe('exactly once when an answer is lost', () => {
	it('a create that landed but whose answer was lost is sent again with the same id: one record on the server', async () => {
		await saveLocally(ids.a, 'Acme');
		server.failNext(offline(), { lost: true });
		await engine.sync();
		expect(server.records.size).toBe(1);
		expect(await stateOf(ids.a)).toBe('local');
		await engine.nudge();
		expect(server.calls.map((call) => [call.method, call.id])).toEqual([
			['createIntegration', ids.a],
			['createIntegration', ids.a]
		]);
		expect(server.records.size).toBe(1);
		expect(await record(ids.a)).toMatchObject({ state: 'synced', baseVersion: 1 });
	});

	it('an update that landed but whose answer was lost is recognised in the 409 that follows: synced, not a conflict', async () => {
		await synced(ids.a, 'Acme', 1);
		await saveLocally(ids.a, 'Acme renamed');
		server.failNext(offline(), { lost: true });
		await engine.sync();
		expect(server.records.get(ids.a)).toMatchObject({ name: 'Acme renamed', version: 2 });
		await engine.nudge();
		// The retry carried version 1 again; the server's copy (version 2) is exactly our draft.
		expect(server.calls.map((call) => call.input)).toEqual([
			{ name: 'Acme renamed', version: 1 },
			{ name: 'Acme renamed', version: 1 }
		]);
		expect(await record(ids.a)).toMatchObject({ state: 'synced', baseVersion: 2, conflict: null, message: null });
		expect(server.records.get(ids.a)?.version).toBe(2);
		expect(await outbox()).toEqual([]);
	});

	it('but a 409 whose copy differs from the draft stays a conflict', async () => {
		await synced(ids.a, 'Acme', 1);
		await saveLocally(ids.a, 'Acme renamed');
		server.seed(ids.a, 'Someone else’s name', 2);
		await engine.sync();
		expect(await stateOf(ids.a)).toBe('conflict');
	});
});

describe('one pass at a time', () => {
	it('a sync() asked for during a pass joins it and runs one more pass after it', async () => {
		await saveLocally(ids.a, 'First');
		let joined: Promise<void> | null = null;
		server.during = async (call) => {
			if (call.id !== ids.a || joined) return;
			await saveLocally(ids.b, 'Queued during the pass');
			joined = engine.sync();
		};
		const first = engine.sync();
		await first;
		expect(joined).not.toBeNull();
		await joined;
		expect(server.calls.map((call) => call.id)).toEqual([ids.a, ids.b]);
		expect(await stateOf(ids.b)).toBe('synced');
	});
});
