/**
 * Shared helpers for the browser tests: Chromium, signing in the way an admin does, and
 * seeding records straight through the API (the same API the app calls).
 */
import { randomBytes } from 'node:crypto';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { inject } from 'vitest';
import type { Integration } from '../../src/lib/schema/integration';
import type { Mailbox } from '../../src/lib/schema/mailbox';

export const baseUrl = inject('e2eBaseUrl');
export const adminToken = inject('e2eAdminToken');

/** Debian's Chromium (Playwright cannot download its own browsers here). */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export function launchBrowser(): Promise<Browser> {
	return chromium.launch({
		executablePath: CHROMIUM,
		args: [
			'--no-sandbox',
			'--disable-gpu',
			'--disable-quic',
			'--disable-background-networking',
			'--disable-component-update',
			'--disable-sync',
			'--no-first-run'
		]
	});
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
	const page = await context.newPage();
	return { context, page };
}

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
			...(body === undefined ? {} : { 'content-type': 'application/json' })
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
