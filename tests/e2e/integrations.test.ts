import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { callApi, describedBy, newPage, seedIntegration, seedMailbox, signIn, unique, useBrowser } from './helpers';

const browser = useBrowser();

async function openIntegrations(page: Page) {
	await signIn(page);
	await page.getByRole('link', { name: 'Channel integrations' }).click();
	await page.getByRole('heading', { level: 1, name: 'Channel integrations' }).waitFor();
}

async function addIntegration(page: Page, name: string) {
	await page.getByLabel('Integration name', { exact: true }).fill(name);
	await page.getByRole('button', { name: 'Add integration' }).click();
	await page.getByRole('listitem').filter({ hasText: name }).filter({ hasText: 'Synced' }).waitFor();
}

/** How many operations wait in this device's outbox (IndexedDB `mailgate`, store `outbox`). */
function outboxSize(page: Page): Promise<number> {
	return page.evaluate(async () => {
		const db = await new Promise<IDBDatabase>((resolve, reject) => {
			const request = indexedDB.open('mailgate');
			request.onsuccess = () => resolve(request.result);
			request.onerror = () => reject(request.error);
		});
		return new Promise<number>((resolve) => {
			const request = db.transaction('outbox').objectStore('outbox').count();
			request.onsuccess = () => resolve(request.result);
		});
	});
}

async function integrationNamed(name: string) {
	const { body } = await callApi('GET', '/api/integrations');
	return (body.items as { id: string; name: string }[]).find((item) => item.name === name);
}

describe('channel integrations', () => {
	it('creates, renames, refuses to delete one in use, and deletes an unused one', async () => {
		const { context, page } = await newPage(browser.current);
		await openIntegrations(page);

		const name = unique('Acme EU support');
		await addIntegration(page, name);
		const created = await integrationNamed(name);
		expect(created).toBeDefined();

		// Rename inline; Escape first cancels without saving.
		await page.getByRole('button', { name: `Rename ${name}` }).click();
		const renameField = page.getByLabel(`New name for ${name}`, { exact: true });
		await renameField.fill('Something else');
		// SPEC §16: the typed name is kept on the device; leaving the list and coming back reopens it.
		await page.getByRole('link', { name: 'Email log', exact: true }).click();
		await page.waitForURL('**/log');
		await page.getByRole('link', { name: 'Channel integrations', exact: true }).click();
		await expect.poll(() => renameField.inputValue().catch(() => '')).toBe('Something else');
		await renameField.press('Escape');
		await renameField.waitFor({ state: 'detached' });
		expect(await page.getByRole('button', { name: `Rename ${name}` }).evaluate((b) => b === document.activeElement)).toBe(true);
		expect((await integrationNamed(name))?.id).toBe(created!.id);

		const renamed = unique('Acme Europe');
		await page.getByRole('button', { name: `Rename ${name}` }).click();
		await page.getByLabel(`New name for ${name}`, { exact: true }).fill(renamed);
		await page.getByRole('button', { name: 'Save name' }).click();
		await page.getByRole('listitem').filter({ hasText: renamed }).filter({ hasText: 'Synced' }).waitFor();
		expect(await page.getByRole('listitem').filter({ hasText: name }).count()).toBe(0);
		expect((await integrationNamed(renamed))?.id).toBe(created!.id);

		// In use by mailboxes: Delete is not offered at all (no "cannot be undone" that then fails);
		// the row says why and what to do.
		await seedMailbox(created!.id);
		await seedMailbox(created!.id);
		await seedMailbox(created!.id);
		await page.reload();
		const row = page.getByRole('listitem').filter({ hasText: renamed });
		await row.getByText('3 mailboxes use this integration: move them first').waitFor();
		expect(await page.getByRole('button', { name: `Delete ${renamed}` }).count()).toBe(0);
		expect(await integrationNamed(renamed)).toBeDefined();

		// An unused one goes.
		const unused = unique('Unused');
		await addIntegration(page, unused);
		await page.getByRole('button', { name: `Delete ${unused}` }).click();
		await page.getByRole('dialog').getByRole('button', { name: 'Delete integration' }).click();
		await page.getByRole('listitem').filter({ hasText: unused }).waitFor({ state: 'detached' });
		await expect.poll(() => integrationNamed(unused)).toBeUndefined();
		await context.close();
	});

	it('Cancel in the delete dialog keeps the integration', async () => {
		const seeded = await seedIntegration();
		const { context, page } = await newPage(browser.current);
		await openIntegrations(page);
		const deletes: string[] = [];
		page.on('request', (request) => {
			if (request.method() === 'DELETE') deletes.push(request.url());
		});
		await page.getByRole('button', { name: `Delete ${seeded.name}` }).click();
		await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
		await page.getByRole('dialog').waitFor({ state: 'hidden' });
		// A delete is queued on this device before it is sent: nothing waits there, none left, and the row stays.
		expect(await outboxSize(page)).toBe(0);
		expect(deletes).toEqual([]);
		await page.getByRole('listitem').filter({ hasText: seeded.name }).filter({ hasText: 'Synced' }).waitFor();
		expect(await integrationNamed(seeded.name)).toBeDefined();
		await context.close();
	});

	it('shows the server’s name_taken error under the field (names are unique regardless of case)', async () => {
		const existing = await seedIntegration(unique('Acme US'));
		const { context, page } = await newPage(browser.current);
		await openIntegrations(page);
		const field = page.getByLabel('Integration name', { exact: true });
		await field.fill(existing.name.toUpperCase());
		await page.getByRole('button', { name: 'Add integration' }).click();
		await expect.poll(() => field.getAttribute('aria-invalid')).toBe('true');
		expect(await describedBy(field)).toContain('Another channel integration already has this name');
		await context.close();
	});

	it('refuses an empty name without calling the API', async () => {
		const { context, page } = await newPage(browser.current);
		await openIntegrations(page);
		let posted = false;
		page.on('request', (request) => {
			if (request.method() === 'POST') posted = true;
		});
		await page.getByRole('button', { name: 'Add integration' }).click();
		const field = page.getByLabel('Integration name', { exact: true });
		await expect.poll(() => field.getAttribute('aria-invalid')).toBe('true');
		expect(await describedBy(field)).toContain('Enter the integration name');
		expect(posted).toBe(false);
		await context.close();
	});
});
