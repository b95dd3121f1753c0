import { SELF, env } from 'cloudflare:test';
import { afterEach, beforeEach, expect, vi, type MockInstance } from 'vitest';
import type { Integration } from '../../src/lib/schema/integration';
import type { Mailbox } from '../../src/lib/schema/mailbox';
import { findComposedInRow, findOutbound, type RowComposed } from '../../worker/db/outbound';
import { wholeComposed } from '../../worker/outbound/composed';

export const TOKEN = 'test-admin-token-0123456789abcdef';
export const ORIGIN = 'https://mailgate.test';

export interface Answer<T = any> {
	status: number;
	body: T;
	headers: Headers;
	text: string;
}

/** Calls the real Worker (its default export's fetch) the way the app does. */
export async function call<T = any>(
	method: string,
	path: string,
	options: { body?: unknown; token?: string | null; headers?: Record<string, string>; raw?: BodyInit } = {}
): Promise<Answer<T>> {
	const headers: Record<string, string> = { ...options.headers };
	const token = options.token === undefined ? TOKEN : options.token;
	if (token !== null) headers.authorization = `Bearer ${token}`;
	let body: BodyInit | undefined = options.raw;
	if (options.body !== undefined) {
		body = JSON.stringify(options.body);
		headers['content-type'] ??= 'application/json';
	}
	// As src/lib/api.ts does: every request that changes something says JSON, even without a
	// body (the router refuses anything else, against cross-site forms).
	if (options.raw === undefined && method !== 'GET' && method !== 'HEAD') headers['content-type'] ??= 'application/json';
	const response = await SELF.fetch(`${ORIGIN}${path}`, { method, headers, body });
	const text = await response.text();
	let parsed: any;
	try {
		parsed = text ? JSON.parse(text) : undefined;
	} catch {
		parsed = undefined;
	}
	return { status: response.status, body: parsed, headers: response.headers, text };
}

let counter = 0;
/** A name no other test uses, so files can share one database. */
export function unique(prefix: string): string {
	counter += 1;
	return `${prefix}-${Date.now().toString(36)}-${counter}-${Math.random().toString(36).slice(2, 6)}`;
}

export async function createIntegration(name = unique('Acme')): Promise<Integration> {
	const answer = await call<Integration>('POST', '/api/integrations', { body: { name } });
	if (answer.status !== 201) throw new Error(`integration not created: ${answer.status} ${answer.text}`);
	return answer.body;
}

export function mailboxInput(integrationId: string, overrides: Record<string, unknown> = {}) {
	const { smtp, ...rest } = overrides as { smtp?: Record<string, unknown> };
	return {
		integrationId,
		name: 'Acme Support',
		description: 'Customer questions for Acme EU',
		address: `${unique('support')}@acme.example.com`,
		...rest,
		smtp: {
			host: 'smtp.acme.example.com',
			port: 587,
			username: 'support@acme.example.com',
			password: 'correct horse battery staple',
			encryption: 'starttls',
			...smtp
		}
	};
}

export async function createMailbox(overrides: Record<string, unknown> = {}): Promise<Mailbox> {
	const integration = await createIntegration();
	const answer = await call<Mailbox>('POST', '/api/mailboxes', { body: mailboxInput(integration.id, overrides) });
	if (answer.status !== 201) throw new Error(`mailbox not created: ${answer.status} ${answer.text}`);
	return answer.body;
}

/** Runs the Worker's fetch with some configuration changed (Access on, a secret missing…). */
export async function fetchWithEnv(request: Request, overrides: Partial<Record<keyof Env, unknown>>): Promise<Response> {
	const { default: worker } = await import('../../worker/index');
	const incoming = request as unknown as Request<unknown, IncomingRequestCfProperties>;
	return worker.fetch(incoming, { ...env, ...overrides } as Env);
}

/**
 * Watches the Worker's console for the whole test file: after each test, no logged line may
 * contain any of `secrets` (SMTP passwords and their base64 forms, tokens).
 */
export function expectSecretsNeverLogged(secrets: string[]): void {
	let logs: MockInstance[] = [];
	beforeEach(() => {
		logs = (['log', 'info', 'warn', 'error', 'debug'] as const).map((level) => vi.spyOn(console, level));
	});
	afterEach(() => {
		for (const spy of logs) {
			for (const args of spy.mock.calls) {
				const line = args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ');
				for (const secret of secrets) expect(line).not.toContain(secret);
			}
			spy.mockRestore();
		}
	});
}

/** A reply's row's copy of its composed message (migrations 0018, 0019); null once it is in R2, or when it never was in the row. */
export async function rowCopyOf(id: string): Promise<RowComposed | null> {
	const outbound = await findOutbound(env.DB, id);
	return outbound && findComposedInRow(env.DB, outbound);
}

/** That copy made whole: the composed message as it leaves. */
export async function composedInRow(id: string): Promise<string | null> {
	const copy = await rowCopyOf(id);
	return copy && wholeComposed(copy);
}
