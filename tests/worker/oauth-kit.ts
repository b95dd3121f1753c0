/**
 * What the OAuth test files share (SPEC §12, §14): the loopback provider stand-in's control
 * (scripts/local-oauth.mjs), signing a mailbox in through it the way a browser does, the API with
 * every answer kept, and the check after each test that no token the stand-in issued appears in
 * any answer or log line.
 */
import { SELF, env } from 'cloudflare:test';
import { afterEach, beforeEach, expect, vi, type MockInstance } from 'vitest';
import type { FlowCheck } from '../../src/lib/schema/flow-check';
import type { OutboundItem } from '../../src/lib/schema/outbound';
import { call, type Answer } from './helpers';

export type Provider = 'microsoft' | 'google';

export interface ApiRequestRecord {
	provider: Provider;
	account: string;
	status: number;
	mime: string;
	contentType: string;
	authorization: string;
	at: string;
}

export interface StandInState {
	tokenRequests: Array<{ grant: string; provider: string; ok: boolean; error?: string; scope?: string }>;
	refreshTokens: string[];
	accessTokens: string[];
	apiRequests?: ApiRequestRecord[];
}

const CONTROL = () => `${env.OAUTH_TEST_ORIGIN}/__control`;

/** Reads the stand-in's state, after changing its settings when `change` is given. */
export async function standIn(change?: Record<string, unknown>): Promise<StandInState> {
	const response = await fetch(CONTROL(), change ? { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(change) } : {});
	expect(response.ok).toBe(true);
	return change ? standIn() : ((await response.json()) as StandInState);
}

export const refreshCount = async () => (await standIn()).tokenRequests.filter((r) => r.grant === 'refresh_token').length;

/** Every answer the API gave in this file's current test, checked for tokens after it. */
const answers: string[] = [];

/** Installs the after-each check: no issued token in any answer or log line of the test. */
export function watchTokens(): void {
	let logs: MockInstance[] = [];
	beforeEach(() => {
		logs = (['log', 'info', 'warn', 'error', 'debug'] as const).map((level) => vi.spyOn(console, level));
	});
	afterEach(async () => {
		const { refreshTokens, accessTokens } = await standIn();
		const secrets = [...refreshTokens, ...accessTokens];
		const logged = logs.flatMap((spy) => spy.mock.calls.map((args) => args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ')));
		for (const spy of logs) spy.mockRestore();
		for (const text of [...answers.splice(0), ...logged]) {
			for (const secret of secrets) expect(text).not.toContain(secret);
		}
	});
}

/** The admin API; each answer is kept for the token check. */
export async function api<T = any>(method: string, path: string, body?: unknown): Promise<Answer<T>> {
	const answer = await call<T>(method, path, body === undefined ? {} : { body });
	answers.push(answer.text);
	return answer;
}

/** Start → the stand-in's authorize (auto-consent) → the redirect back: the callback's URL. */
export async function authorize(mailboxId: string, provider: Provider = 'microsoft'): Promise<{ authorizationUrl: URL; callback: string }> {
	const started = await api<{ authorizationUrl: string }>('POST', `/api/mailboxes/${mailboxId}/oauth/start`, { provider });
	expect(started.status, started.text).toBe(200);
	const consent = await fetch(started.body.authorizationUrl, { redirect: 'manual' });
	expect(consent.status).toBe(302);
	return { authorizationUrl: new URL(started.body.authorizationUrl), callback: consent.headers.get('location')! };
}

/** The browser arriving back at the Worker: where it is sent next. */
export async function arrive(callback: string): Promise<string> {
	const response = await SELF.fetch(callback, { redirect: 'manual' });
	expect(response.status).toBe(303);
	expect(response.headers.get('cache-control')).toBe('no-store');
	expect(response.headers.get('referrer-policy')).toBe('no-referrer');
	return response.headers.get('location')!;
}

export async function signIn(mailboxId: string, provider: Provider = 'microsoft'): Promise<string> {
	return arrive((await authorize(mailboxId, provider)).callback);
}

/** Polls a reply until it has left the queue (the real queue and consumer deliver it). */
export async function waitForOutbound(id: string, done: (item: OutboundItem) => boolean = (item) => !['queued', 'sending'].includes(item.status)): Promise<OutboundItem> {
	for (let i = 0; i < 150; i++) {
		const answer = await api<OutboundItem>('GET', `/api/outbound/${id}`);
		if (done(answer.body)) return answer.body;
		await new Promise((resolve) => setTimeout(resolve, 200));
	}
	throw new Error(`outbound ${id} never left the queue`);
}

export async function waitForCheck(mailboxId: string, id: string, done: (check: FlowCheck) => boolean): Promise<FlowCheck> {
	for (let i = 0; i < 150; i++) {
		const check = (await api<FlowCheck>('GET', `/api/mailboxes/${mailboxId}/flow-checks/${id}`)).body;
		if (done(check)) return check;
		await new Promise((resolve) => setTimeout(resolve, 100));
	}
	throw new Error(`check ${id} never got there`);
}
