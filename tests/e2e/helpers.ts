/**
 * Shared helpers for the browser tests: Chromium, signing in the way an admin does, and
 * seeding records straight through the API (the same API the app calls).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, inject, onTestFinished } from 'vitest';
import type { Integration } from '../../src/lib/schema/integration';
import type { Mailbox } from '../../src/lib/schema/mailbox';
import { chromiumOptions } from '../../scripts/local-harness.mjs';

export const baseUrl = inject('e2eBaseUrl');
export const adminToken = inject('e2eAdminToken');

export function launchBrowser(): Promise<Browser> {
	return chromium.launch(chromiumOptions);
}

/**
 * The Chromium the test files share: the files run one after another in one process
 * (vitest.e2e.config.ts `isolate: false`), and each test opens its own fresh context in it, so a
 * browser per file only cost its launch and close (about 1.5 s). Launched again if it went away;
 * playwright closes it when the process ends.
 */
let shared: Promise<Browser> | null = null;

/** Chromium for the tests of a file, shared with the other files (see `shared`). Read `.current`. */
export function useBrowser(): { readonly current: Browser } {
	const holder = {} as { current: Browser };
	beforeAll(async () => {
		let browser = await (shared ??= launchBrowser());
		if (!browser.isConnected()) browser = await (shared = launchBrowser());
		holder.current = browser;
	});
	afterAll(async () => {
		// What a file's tests left open (a context a failed test did not close) goes with the file.
		await Promise.all(holder.current?.contexts().map((context) => context.close()) ?? []);
	});
	return holder;
}

export const PHONE = { width: 360, height: 740 };
export const DESKTOP = { width: 1280, height: 800 };

/** A fresh browser profile (empty localStorage) on the test server. */
export async function newPage(
	browser: Browser,
	viewport: { width: number; height: number } = DESKTOP
): Promise<{ context: BrowserContext; page: Page }> {
	const context = await browser.newContext({ baseURL: baseUrl, viewport });
	context.setDefaultTimeout(10_000);
	context.setDefaultNavigationTimeout(NAVIGATION_TIMEOUT_MS);
	const page = await context.newPage();
	return { context, page };
}

/**
 * A page load may take a cold Chromium profile well over the 10 s a step gets when the Worker
 * suite runs beside this one on two cores (CI: a first load of the app timed out at 10 s).
 */
const NAVIGATION_TIMEOUT_MS = 30_000;

/** Signs in through the link `npm start` prints, and waits for the mailbox list. */
export async function signIn(page: Page, token = adminToken): Promise<void> {
	await page.goto(`/login#token=${encodeURIComponent(token)}`);
	await page.waitForURL((url) => url.pathname === '/');
}

/** A short random suffix that keeps records of different tests apart in the shared database. */
export function unique(prefix: string): string {
	return `${prefix}-${randomBytes(4).toString('hex')}`;
}

export function uniqueAddress(local = 'support'): string {
	return `${local}-${randomBytes(4).toString('hex')}@acme.example`;
}

export async function callApi(
	method: string,
	path: string,
	body?: unknown
): Promise<{ status: number; body: any }> {
	const response = await fetch(`${baseUrl}${path}`, {
		method,
		headers: {
			authorization: `Bearer ${adminToken}`,
			// The Worker refuses a request that changes something unless it says JSON, body or not.
			...(body === undefined && (method === 'GET' || method === 'HEAD') ? {} : { 'content-type': 'application/json' })
		},
		body: body === undefined ? undefined : JSON.stringify(body)
	});
	const text = await response.text();
	return { status: response.status, body: text ? JSON.parse(text) : null };
}

export async function seedIntegration(name = unique('Acme support')): Promise<Integration> {
	const { status, body } = await callApi('POST', '/api/integrations', { name });
	if (status !== 201) throw new Error(`Seeding integration failed: ${status} ${JSON.stringify(body)}`);
	return body;
}

export async function seedMailbox(
	integrationId: string,
	overrides: { name?: string; address?: string; port?: number } = {}
): Promise<Mailbox> {
	const { status, body } = await callApi('POST', '/api/mailboxes', {
		integrationId,
		name: overrides.name ?? 'Acme Support',
		description: '',
		address: overrides.address ?? uniqueAddress(),
		smtp: {
			host: 'smtp.acme.example',
			port: overrides.port ?? 587,
			username: 'support@acme.example',
			password: 'app-password-1',
			encryption: 'starttls'
		}
	});
	if (status !== 201) throw new Error(`Seeding mailbox failed: ${status} ${JSON.stringify(body)}`);
	return body;
}

export async function getMailbox(id: string): Promise<Mailbox> {
	const { status, body } = await callApi('GET', `/api/mailboxes/${id}`);
	if (status !== 200) throw new Error(`Reading mailbox failed: ${status}`);
	return body;
}

/** The texts of the elements a control's aria-describedby points at (hint, error, warning). */
export function describedBy(control: Locator): Promise<string[]> {
	return control.evaluate((element) =>
		(element.getAttribute('aria-describedby') ?? '')
			.split(/\s+/)
			.filter(Boolean)
			.map((id) => document.getElementById(id)?.textContent?.trim() ?? `(missing #${id})`)
	);
}

/** Presses Tab until `target` has focus; fails when it never does (it is not keyboard reachable). */
export async function tabTo(page: Page, target: Locator, maxPresses = 40): Promise<void> {
	for (let i = 0; i < maxPresses; i++) {
		if (await target.evaluate((element) => element === document.activeElement)) return;
		await page.keyboard.press('Tab');
	}
	throw new Error(`Could not reach ${target} with Tab in ${maxPresses} presses`);
}

/** Records the API requests a page makes, as "METHOD /path". */
export function recordApiCalls(page: Page): string[] {
	const calls: string[] = [];
	page.on('request', (request) => {
		const url = new URL(request.url());
		if (url.pathname.startsWith('/api/')) calls.push(`${request.method()} ${url.pathname}`);
	});
	return calls;
}

/** Horizontal overflow of the page, in CSS pixels beyond the viewport. */
export function scrollWidth(page: Page): Promise<number> {
	return page.evaluate(() => document.scrollingElement?.scrollWidth ?? 0);
}

/** Saves a screenshot when E2E_SCREENSHOT_DIR is set (for looking at the layout; never committed). */
export async function maybeScreenshot(page: Page, name: string, options: { viewportOnly?: boolean } = {}): Promise<void> {
	const dir = process.env.E2E_SCREENSHOT_DIR;
	if (!dir) return;
	if (options.viewportOnly) {
		await page.screenshot({ path: `${dir}/${name}.png` });
		return;
	}
	// Tall pages in viewport-high slices, so each stays legible.
	const { width, height } = page.viewportSize() ?? { width: 1280, height: 800 };
	const total = await page.evaluate(() => document.documentElement.scrollHeight);
	for (let y = 0, part = 1; y < total; y += height, part++) {
		await page.screenshot({
			path: `${dir}/${name}-${part}.png`,
			fullPage: true,
			clip: { x: 0, y, width, height: Math.min(height, total - y) }
		});
	}
}

/**
 * Waits until the app's service worker controls the page, i.e. the app shell is precached and
 * the page would open with no network.
 */
export async function waitForServiceWorker(page: Page): Promise<void> {
	await page.evaluate(async () => {
		await navigator.serviceWorker.ready;
		if (navigator.serviceWorker.controller) return;
		await new Promise((resolve) => navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true }));
	});
}

/**
 * A signed-in browser profile whose app shell is installed (ready to go offline), on the list.
 * With `integration`, it also waits until that integration is on the device (pulled from the
 * server), so that forms filled offline can choose it.
 */
export async function installedPage(
	browser: Browser,
	options: { integration?: string } = {}
): Promise<{ context: BrowserContext; page: Page }> {
	const { context, page } = await newPage(browser);
	await signIn(page);
	await waitForServiceWorker(page);
	if (options.integration) {
		await page.getByRole('link', { name: 'Channel integrations' }).click();
		await page.getByRole('listitem').filter({ hasText: options.integration }).waitFor();
		await page.getByRole('link', { name: 'Mailboxes', exact: true }).first().click();
	}
	await page.getByRole('heading', { level: 1, name: 'Mailboxes' }).waitFor();
	return { context, page };
}

/** The list row of the mailbox with `address`. */
export function mailboxRow(page: Page, address: string): Locator {
	return page.getByRole('row').filter({ hasText: address });
}

/** The sync state a row or form shows ("Saved on this device", "Synced", …). */
export function syncBadge(scope: Page | Locator): Locator {
	return scope.locator('[data-sync-state]');
}

export interface MailboxFormInput {
	integration?: string;
	name?: string;
	description?: string;
	address?: string;
	host?: string;
	port?: string;
	account?: string;
	password?: string;
}

export const field = (page: Page, label: string) => page.getByLabel(label, { exact: true });

/** Fills the mailbox form by its labels (SPEC §3), leaving out what `input` does not name. */
export async function fillMailboxForm(page: Page, input: MailboxFormInput): Promise<void> {
	if (input.integration !== undefined) {
		await field(page, 'Associated channel integration').selectOption({ label: input.integration });
	}
	if (input.name !== undefined) await field(page, 'Mailbox name').fill(input.name);
	if (input.description !== undefined) await field(page, 'Description').fill(input.description);
	if (input.address !== undefined) await field(page, 'Service email address').fill(input.address);
	if (input.host !== undefined) await field(page, 'Server address').fill(input.host);
	if (input.port !== undefined) await field(page, 'Port').fill(input.port);
	if (input.account !== undefined) await field(page, 'Account').fill(input.account);
	if (input.password !== undefined) await field(page, 'Password').fill(input.password);
}

/**
 * Adds a mailbox through the form (from the list's Add button), saves it, and goes back to the
 * list from the new mailbox's page, where Save leads (issue 19), once it says it was saved.
 */
export async function addMailboxThroughForm(page: Page, input: MailboxFormInput & { integration: string; address: string }) {
	await page.getByRole('link', { name: 'Add', exact: true }).click();
	await page.waitForURL((url) => url.pathname === '/mailboxes/new');
	await fillMailboxForm(page, {
		name: 'Support desk',
		host: 'smtp.acme.example',
		account: input.address,
		password: 'offline-app-password',
		...input
	});
	await page.getByRole('button', { name: 'Save', exact: true }).click();
	await page.waitForURL((url) => /^\/mailboxes\/[0-9a-f-]{36}$/.test(url.pathname));
	await page.getByRole('status').filter({ hasText: `Mailbox ${input.address} saved` }).waitFor();
	await page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link', { name: 'Mailboxes' }).click();
	await page.getByRole('heading', { level: 1, name: 'Mailboxes' }).waitFor();
}

/** Every mailbox on the server with `address` (addresses compare without case, as the Worker does). */
export async function serverMailboxesAt(address: string): Promise<Mailbox[]> {
	const { body } = await callApi('GET', '/api/mailboxes');
	return (body.items as Mailbox[]).filter((item) => item.address.toLowerCase() === address.toLowerCase());
}

/**
 * A browser profile on disk for one test: what survives closing a browser launched on it is what
 * survives closing the browser or rebooting. Chrome also treats only such profiles as able to
 * install apps (a fresh `newContext` is off the record). When the test ends, however it ends,
 * its browsers are closed and the directory removed.
 */
export function temporaryProfile(): { launch: (options?: { offline?: boolean }) => Promise<BrowserContext> } {
	const dir = mkdtempSync(path.join(tmpdir(), 'mailgate-profile-'));
	const open = new Set<BrowserContext>();
	onTestFinished(async () => {
		for (const context of open) await context.close().catch(() => {});
		rmSync(dir, { recursive: true, force: true });
	});
	return {
		async launch(options = {}) {
			const context = await chromium.launchPersistentContext(dir, {
				...chromiumOptions,
				baseURL: baseUrl,
				viewport: DESKTOP,
				offline: options.offline ?? false
			});
			open.add(context);
			context.on('close', () => open.delete(context));
			context.setDefaultTimeout(10_000);
			context.setDefaultNavigationTimeout(NAVIGATION_TIMEOUT_MS);
			return context;
		}
	};
}

/** One record of the app's log cache, as the tests look at it. */
export interface LogCacheRecord {
	key: string;
	loadedAt: string;
	/** The mailboxes of a health record. */
	mailboxIds?: (string | null)[];
}

/**
 * What the app keeps of the email log on this device (IndexedDB `mailgate-log`, see
 * src/lib/offline/log-cache.ts): each store's records by key and load time; null before the app
 * created the database.
 */
export function readLogCache(page: Page): Promise<Record<'pages' | 'messages' | 'health', LogCacheRecord[]> | null> {
	return page.evaluate(async () => {
		// Opening a database that does not exist yet would create it empty, without the app's stores.
		if (!(await indexedDB.databases()).some((info) => info.name === 'mailgate-log')) return null;
		const done = <T>(request: IDBRequest<T> | IDBOpenDBRequest) =>
			new Promise<T>((resolve, reject) => {
				request.onsuccess = () => resolve(request.result as T);
				request.onerror = () => reject(request.error);
			});
		const db = await done<IDBDatabase>(indexedDB.open('mailgate-log'));
		try {
			const stores = ['pages', 'messages', 'health'] as const;
			const tx = db.transaction([...stores]);
			type Stored = { key?: string; id?: string; loadedAt: string; items?: Array<{ mailboxId: string | null }> };
			const read = async (store: (typeof stores)[number]) =>
				(await done<Stored[]>(tx.objectStore(store).getAll())).map((row) => ({
					key: row.key ?? row.id ?? '',
					loadedAt: row.loadedAt,
					...(store === 'health' ? { mailboxIds: (row.items ?? []).map((item) => item.mailboxId) } : {})
				}));
			const [pages, messages, health] = await Promise.all(stores.map(read));
			return { pages: pages!, messages: messages!, health: health! };
		} finally {
			db.close();
		}
	});
}

/**
 * The keys of what `store` of the app's IndexedDB `database` holds ([] before the app created it).
 * The app keeps its copy of a page after showing it, so a test that goes offline right after
 * seeing a page waits for the copy first, as a person reloading a second later would find it.
 */
export function storedKeys(page: Page, database: string, store: string): Promise<string[]> {
	return page.evaluate(
		async ({ database, store }) => {
			if (!(await indexedDB.databases()).some((info) => info.name === database)) return [];
			const done = <T>(request: IDBRequest<T> | IDBOpenDBRequest) =>
				new Promise<T>((resolve, reject) => {
					request.onsuccess = () => resolve(request.result as T);
					request.onerror = () => reject(request.error);
				});
			const db = await done<IDBDatabase>(indexedDB.open(database));
			try {
				if (!db.objectStoreNames.contains(store)) return [];
				return (await done<IDBValidKey[]>(db.transaction(store).objectStore(store).getAllKeys())).map(String);
			} finally {
				db.close();
			}
		},
		{ database, store }
	);
}

/** A reply kept on this device (IndexedDB `mailgate-replies`, src/lib/offline/replies.ts), as the tests look at it. */
export interface StoredReply {
	id: string;
	state: string;
	draft: { to: string[]; subject?: string; text: string; inReplyTo: string };
	server: { id: string } | null;
}

/** The replies this browser profile keeps; [] before the app created their database. */
export function readReplies(page: Page): Promise<StoredReply[]> {
	return page.evaluate(async () => {
		if (!(await indexedDB.databases()).some((info) => info.name === 'mailgate-replies')) return [];
		const done = <T>(request: IDBRequest<T> | IDBOpenDBRequest) =>
			new Promise<T>((resolve, reject) => {
				request.onsuccess = () => resolve(request.result as T);
				request.onerror = () => reject(request.error);
			});
		const db = await done<IDBDatabase>(indexedDB.open('mailgate-replies'));
		try {
			return await done<StoredReply[]>(db.transaction('replies').objectStore('replies').getAll());
		} finally {
			db.close();
		}
	});
}

/**
 * Where an element's text wraps between two letters or digits (a word broken in the middle),
 * as "before|after"; [] when every line break falls at "@", ".", "-" or a space. Measured per
 * character: a character whose box starts lower than the one before starts a new line.
 */
export function midWordBreaks(element: Locator): Promise<string[]> {
	return element.evaluate((root) => {
		const chars: { char: string; top: number }[] = [];
		const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
		for (let node = walker.nextNode(); node; node = walker.nextNode()) {
			const text = node.textContent ?? '';
			for (let i = 0; i < text.length; i++) {
				const range = document.createRange();
				range.setStart(node, i);
				range.setEnd(node, i + 1);
				const box = range.getBoundingClientRect();
				if (box.width > 0) chars.push({ char: text[i]!, top: box.top });
			}
		}
		const breaks: string[] = [];
		for (let i = 1; i < chars.length; i++) {
			const [before, after] = [chars[i - 1]!, chars[i]!];
			if (after.top > before.top + 2 && /[\p{L}\p{N}]/u.test(before.char) && /[\p{L}\p{N}]/u.test(after.char)) {
				breaks.push(`${before.char}|${after.char}`);
			}
		}
		return breaks;
	});
}
