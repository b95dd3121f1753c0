/**
 * The sync engine against the real Worker (SPEC §6): a retried create never makes a second
 * record, a refused operation does not hold up the others, and the server's verdict on a field
 * comes back to that field of the draft.
 */
import type { Page, Request } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import {
	adminToken,
	addMailboxThroughForm,
	baseUrl,
	describedBy,
	field,
	getMailbox,
	installedPage,
	mailboxRow,
	seedIntegration,
	seedMailbox,
	serverMailboxesAt,
	syncBadge,
	uniqueAddress,
	useBrowser
} from './helpers';

const browser = useBrowser();

const ADDRESS_TAKEN = 'Another mailbox already uses this service email address';

/** A signed-in page whose /api calls `page.route` sees (service workers off: routing cannot see through them). */
async function apiRoutedPage(): Promise<Page> {
	const context = await browser.current.newContext({ baseURL: baseUrl, serviceWorkers: 'block' });
	context.setDefaultTimeout(10_000);
	await context.addInitScript((token) => localStorage.setItem('mailgate.adminToken', token), adminToken);
	return context.newPage();
}

describe('sync', () => {
	it('retries a create whose answer was lost without making a second mailbox', async () => {
		const integration = await seedIntegration();
		const address = uniqueAddress('retry');
		const page = await apiRoutedPage();
		const posts: { id: unknown; status: number | 'lost' }[] = [];
		await page.route('**/api/mailboxes', async (route) => {
			if (route.request().method() !== 'POST') return route.continue();
			const body = route.request().postDataJSON() as { id?: unknown };
			if (posts.length === 0) {
				// The first attempt reaches the Worker and is stored; its answer never comes back.
				const response = await route.fetch();
				posts.push({ id: body.id, status: 'lost' });
				expect(response.status()).toBe(201);
				return route.abort('connectionreset');
			}
			const response = await route.fetch();
			posts.push({ id: body.id, status: response.status() });
			return route.fulfill({ response });
		});
		await page.goto('/');
		await page.getByRole('heading', { level: 1, name: 'Mailboxes' }).waitFor();
		await addMailboxThroughForm(page, { integration: integration.name, address });

		// No click: the engine retries on its own (backoff) and the record ends up synced.
		await expect.poll(() => syncBadge(mailboxRow(page, address)).textContent(), { timeout: 15_000 }).toBe('Synced');
		expect(posts.length).toBeGreaterThanOrEqual(2);
		expect(typeof posts[0]!.id).toBe('string');
		// The retry names the same record, and the Worker answers with the one it already has.
		expect(posts.map((post) => post.id)).toEqual(posts.map(() => posts[0]!.id));
		expect(posts[1]!.status).toBe(200);
		const onServer = await serverMailboxesAt(address);
		expect(onServer).toHaveLength(1);
		expect(onServer[0]!.id).toBe(posts[0]!.id);
		expect(await mailboxRow(page, address).getAttribute('data-mailbox-id')).toBe(posts[0]!.id);
		await page.context().close();
	});

	it('retries an update whose answer was lost without calling it a conflict', async () => {
		const integration = await seedIntegration();
		const mailbox = await seedMailbox(integration.id, { name: 'Before' });
		const page = await apiRoutedPage();
		const patches: { version: unknown; status: number | 'lost' }[] = [];
		await page.route(`**/api/mailboxes/${mailbox.id}`, async (route) => {
			if (route.request().method() !== 'PATCH') return route.continue();
			const { version } = route.request().postDataJSON() as { version: unknown };
			const response = await route.fetch();
			if (patches.length === 0) {
				// Applied on the server (version 2); the answer is lost on the way back.
				patches.push({ version, status: 'lost' });
				return route.abort('connectionreset');
			}
			patches.push({ version, status: response.status() });
			return route.fulfill({ response });
		});
		await page.goto(`/mailboxes/${mailbox.id}`);
		await field(page, 'Mailbox name').fill('After');
		await page.getByRole('button', { name: 'Save', exact: true }).click();
		// Issue 19: Save stays on the mailbox's page and says so.
		await page.locator('.saved-notice').waitFor();
		await page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link', { name: 'Mailboxes' }).click();

		// The retry finds the server already holding exactly this draft: synced, not a conflict.
		await expect.poll(() => syncBadge(mailboxRow(page, mailbox.address)).textContent(), { timeout: 15_000 }).toBe('Synced');
		expect(patches.map((patch) => patch.version)).toEqual([1, 1]);
		expect(patches[1]!.status).toBe(409);
		expect(await getMailbox(mailbox.id)).toMatchObject({ name: 'After', version: 2 });
		await page.context().close();
	});

	it('“Sync now” sends what waits at once instead of waiting out the backoff', async () => {
		const integration = await seedIntegration();
		const address = uniqueAddress('now');
		const page = await apiRoutedPage();
		let serverAway = true;
		let failures = 0;
		await page.route('**/api/mailboxes', async (route) => {
			if (route.request().method() !== 'POST' || !serverAway) return route.continue();
			failures += 1;
			return route.abort('connectionrefused');
		});
		await page.goto('/');
		await addMailboxThroughForm(page, { integration: integration.name, address });
		// The first attempt and the first retry (about 2 s later) fail; the next waits about 4 s.
		await expect.poll(() => failures, { timeout: 10_000 }).toBe(2);
		await page.getByRole('status').filter({ hasText: '1 change waiting to sync' }).waitFor();

		serverAway = false;
		await page.getByRole('button', { name: 'Sync now' }).click();
		await expect.poll(() => syncBadge(mailboxRow(page, address)).textContent(), { timeout: 1_500 }).toBe('Synced');
		expect(await serverMailboxesAt(address)).toHaveLength(1);
		await page.context().close();
	});

	it('a refused change does not hold up the changes queued after it', async () => {
		const integration = await seedIntegration();
		const taken = uniqueAddress('taken');
		const fine = uniqueAddress('fine');
		const { context, page } = await installedPage(browser.current, { integration: integration.name });
		await context.setOffline(true);
		await addMailboxThroughForm(page, { integration: integration.name, address: taken, name: 'Refused desk' });
		await mailboxRow(page, taken).waitFor();
		await addMailboxThroughForm(page, { integration: integration.name, address: fine, name: 'Fine desk' });
		await mailboxRow(page, fine).waitFor();
		// Meanwhile someone else takes the first address on the server.
		await seedMailbox(integration.id, { address: taken });

		const sent: string[] = [];
		page.on('request', (request: Request) => {
			if (request.method() === 'POST' && new URL(request.url()).pathname === '/api/mailboxes') {
				sent.push((request.postDataJSON() as { address: string }).address);
			}
		});
		await context.setOffline(false);
		await expect.poll(() => syncBadge(mailboxRow(page, fine)).textContent(), { timeout: 15_000 }).toBe('Synced');
		// In order: the refused one was tried first, and the next one went anyway.
		expect(sent).toEqual([taken, fine]);
		// The list now holds the server's mailbox at that address too, and our refused draft.
		const refused = mailboxRow(page, taken).filter({ hasText: 'Refused desk' });
		expect(await syncBadge(refused).textContent()).toBe('Needs attention');
		expect(await refused.textContent()).toContain(ADDRESS_TAKEN);
		expect((await serverMailboxesAt(fine)).map((m) => m.name)).toEqual(['Fine desk']);
		expect((await serverMailboxesAt(taken)).map((m) => m.name)).not.toContain('Refused desk');
		await page.getByRole('status').filter({ hasText: /waiting to sync/ }).waitFor({ state: 'detached' });
		await context.close();
	});

	it('shows the server’s verdict from a sync on the right field: two devices offline take the same address', async () => {
		const integration = await seedIntegration();
		const address = uniqueAddress('twice');
		const first = await installedPage(browser.current, { integration: integration.name });
		const second = await installedPage(browser.current, { integration: integration.name });
		await first.context.setOffline(true);
		await second.context.setOffline(true);
		await addMailboxThroughForm(first.page, { integration: integration.name, address, name: 'Desk on the laptop' });
		await addMailboxThroughForm(second.page, { integration: integration.name, address, name: 'Desk on the phone' });
		await mailboxRow(first.page, address).waitFor();
		await mailboxRow(second.page, address).waitFor();

		await first.context.setOffline(false);
		await expect.poll(async () => (await serverMailboxesAt(address)).map((m) => m.name), { timeout: 15_000 }).toEqual([
			'Desk on the laptop'
		]);

		await second.context.setOffline(false);
		// The laptop's mailbox comes in from the server; the phone's draft is the refused one.
		const row = mailboxRow(second.page, address).filter({ hasText: 'Desk on the phone' });
		await expect.poll(() => syncBadge(row).textContent(), { timeout: 15_000 }).toBe('Needs attention');
		expect(await row.textContent()).toContain(ADDRESS_TAKEN);

		await row.getByRole('link', { name: `Edit ${address}` }).click();
		const addressField = field(second.page, 'Service email address');
		await expect.poll(() => addressField.getAttribute('aria-invalid')).toBe('true');
		expect(await describedBy(addressField)).toContain(ADDRESS_TAKEN);
		for (const other of ['Mailbox name', 'Server address', 'Port', 'Account', 'Password']) {
			expect(await field(second.page, other).getAttribute('aria-invalid'), other).toBeNull();
		}
		expect(await syncBadge(second.page.getByRole('main')).first().textContent()).toBe('Needs attention');
		// The draft keeps what the admin typed on this device.
		expect(await field(second.page, 'Mailbox name').inputValue()).toBe('Desk on the phone');

		// Fixed and saved again: it goes through.
		const moved = uniqueAddress('phone');
		await addressField.fill(moved);
		await expect.poll(() => addressField.getAttribute('aria-invalid')).toBeNull();
		await second.page.getByRole('button', { name: 'Save', exact: true }).click();
		// Issue 19: Save stays on the mailbox's page and says so.
		await second.page.locator('.saved-notice').waitFor();
		await second.page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link', { name: 'Mailboxes' }).click();
		await expect.poll(() => syncBadge(mailboxRow(second.page, moved)).textContent()).toBe('Synced');
		expect((await serverMailboxesAt(moved)).map((m) => m.name)).toEqual(['Desk on the phone']);
		expect(await serverMailboxesAt(address)).toHaveLength(1);
		await first.context.close();
		await second.context.close();
	});
});
