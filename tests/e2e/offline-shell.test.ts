/**
 * The app shell is precached by the service worker (SPEC §6): after one online visit the app
 * opens with no network, on any of its addresses, and nothing from /api is ever stored in the
 * service worker's caches.
 */
import { describe, expect, it } from 'vitest';
import { adminToken, installedPage, mailboxRow, seedIntegration, seedMailbox, useBrowser } from './helpers';

const browser = useBrowser();

describe('offline app shell', () => {
	it('opens the app with no network after one online visit, with the mailboxes from this device', async () => {
		const integration = await seedIntegration();
		const mailbox = await seedMailbox(integration.id, { name: 'Offline desk' });
		const { context, page } = await installedPage(browser.current);
		await mailboxRow(page, mailbox.address).waitFor();

		await context.setOffline(true);
		await page.reload();
		await page.getByRole('heading', { level: 1, name: 'Mailboxes' }).waitFor();
		const row = mailboxRow(page, mailbox.address);
		await row.waitFor();
		expect(await row.textContent()).toContain('Offline desk');
		expect(await row.textContent()).toContain(integration.name);
		await page.getByRole('status').filter({ hasText: 'You are offline' }).waitFor();

		// Any address of the app opens offline too, not only the one visited.
		for (const [path, heading] of [
			['/integrations', 'Channel integrations'],
			[`/mailboxes/${mailbox.id}`, `Edit ${mailbox.address}`],
			['/mailboxes/new', 'Add a mailbox']
		] as const) {
			await page.goto(path);
			await page.getByRole('heading', { level: 1, name: heading }).waitFor();
		}
		// …with its data: the form lists the integrations this device holds.
		await page.getByLabel('Associated channel integration', { exact: true }).locator('option', { hasText: integration.name }).waitFor({ state: 'attached' });
		await context.close();
	});

	it('keeps the shell in a versioned cache and never stores /api answers', async () => {
		const integration = await seedIntegration();
		await seedMailbox(integration.id);
		const { context, page } = await installedPage(browser.current);
		// Now under the service worker from the first request: every /api answer passes it.
		const answers = ['/api/integrations', '/api/mailboxes'].map((path) =>
			page.waitForResponse((response) => new URL(response.url()).pathname === path && response.ok())
		);
		await page.reload();
		await Promise.all(answers);
		await page.getByRole('link', { name: 'Channel integrations' }).click();
		await page.getByRole('listitem').filter({ hasText: integration.name }).waitFor();
		// Give a worker that would store them time to do so.
		await page.waitForTimeout(300);
		const cached = await page.evaluate(async () => {
			const result: Record<string, string[]> = {};
			for (const name of await caches.keys()) {
				const cache = await caches.open(name);
				result[name] = (await cache.keys()).map((request) => new URL(request.url).pathname);
			}
			return result;
		});
		const names = Object.keys(cached);
		expect(names).toHaveLength(1);
		expect(names[0]).toMatch(/^mailgate-shell-\w+/);
		const paths = cached[names[0]!]!;
		expect(paths).toContain('/');
		expect(paths).toContain('/manifest.webmanifest');
		expect(paths.some((path) => path.startsWith('/_app/immutable/'))).toBe(true);
		expect(paths.filter((path) => path.startsWith('/api'))).toEqual([]);

		// Offline, the API is simply unreachable: no stored answer stands in for it.
		await context.setOffline(true);
		const offlineAnswer = await page.evaluate(async (token) => {
			try {
				const response = await fetch('/api/mailboxes', { headers: { authorization: `Bearer ${token}` } });
				return `HTTP ${response.status}`;
			} catch {
				return 'network error';
			}
		}, adminToken);
		expect(offlineAnswer).toBe('network error');
		await context.close();
	});
});
