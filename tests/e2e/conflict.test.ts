/**
 * Version conflicts between two devices (SPEC §6): both open the same mailbox, one saves, then
 * the other. The second sees its copy and the server's side by side and chooses; nothing is
 * overwritten silently, whichever way it goes.
 */
import type { BrowserContext, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import type { Mailbox } from '../../src/lib/schema/mailbox';
import {
	callApi,
	field,
	getMailbox,
	mailboxRow,
	newPage,
	recordApiCalls,
	seedIntegration,
	seedMailbox,
	signIn,
	syncBadge,
	unique,
	useBrowser
} from './helpers';

const browser = useBrowser();

interface Device {
	context: BrowserContext;
	page: Page;
}

async function openMailbox(mailbox: Mailbox): Promise<Device> {
	const device = await newPage(browser.current);
	await signIn(device.page);
	await device.page.getByRole('link', { name: `Edit ${mailbox.address}` }).click();
	await expect.poll(() => field(device.page, 'Mailbox name').inputValue()).toBe(mailbox.name);
	return device;
}

async function save(page: Page, changes: Record<string, string>) {
	for (const [label, value] of Object.entries(changes)) await field(page, label).fill(value);
	await page.getByRole('button', { name: 'Save', exact: true }).click();
}

/**
 * Laptop and phone both open the mailbox; the laptop saves a new name, then the phone saves
 * another name and port. Returns the phone, looking at the comparison.
 */
async function makeConflict(mailbox: Mailbox): Promise<{ laptop: Device; phone: Device }> {
	const laptop = await openMailbox(mailbox);
	const phone = await openMailbox(mailbox);
	await save(laptop.page, { 'Mailbox name': 'Named on the laptop' });
	// Issue 19: Save stays on the mailbox's page and says so.
	await laptop.page.locator('.saved-notice').waitFor();
	expect((await getMailbox(mailbox.id)).name).toBe('Named on the laptop');

	// Another port needs the password again (issue 18: a stored password goes only to its server).
	await save(phone.page, { 'Mailbox name': 'Named on the phone', Port: '2525', Password: 'phone-app-password' });
	await phone.page.getByRole('heading', { name: 'This mailbox was changed on the server' }).waitFor();
	return { laptop, phone };
}

/** The comparison as the admin reads it: field → [yours, server's, marked as different]. */
async function comparison(page: Page): Promise<Record<string, [string, string, boolean]>> {
	const rows = page.getByRole('table').filter({ hasText: 'Your version (this device)' }).locator('tbody tr');
	const result: Record<string, [string, string, boolean]> = {};
	for (const row of await rows.all()) {
		const label = (await row.getByRole('rowheader').evaluate((th) => th.firstChild?.textContent ?? '')).trim();
		const [mine, theirs] = await row.getByRole('cell').allTextContents();
		result[label] = [mine!.trim(), theirs!.trim(), (await row.getAttribute('data-differs')) === 'true'];
	}
	return result;
}

describe('version conflicts between two devices', () => {
	it('shows both copies side by side, and “Keep my version” puts the phone’s copy on the server', async () => {
		const integration = await seedIntegration();
		const mailbox = await seedMailbox(integration.id, { name: 'Original name' });
		const { laptop, phone } = await makeConflict(mailbox);

		const compared = await comparison(phone.page);
		expect(compared['Mailbox name']).toEqual(['Named on the phone', 'Named on the laptop', true]);
		expect(compared['Port']).toEqual(['2525', '587', true]);
		expect(compared['Service email address']).toEqual([mailbox.address, mailbox.address, false]);
		expect(compared['Associated channel integration']).toEqual([integration.name, integration.name, false]);
		expect(await syncBadge(phone.page.getByRole('main')).first().textContent()).toBe('Conflict');
		// Nothing was overwritten: the server still has the laptop's copy.
		expect(await getMailbox(mailbox.id)).toMatchObject({ name: 'Named on the laptop', version: 2, smtp: { port: 587 } });

		await phone.page.getByRole('button', { name: 'Keep my version' }).click();
		await expect.poll(() => field(phone.page, 'Mailbox name').inputValue()).toBe('Named on the phone');
		await expect.poll(() => syncBadge(phone.page.getByRole('main')).first().textContent()).toBe('Synced');
		expect(await getMailbox(mailbox.id)).toMatchObject({ name: 'Named on the phone', version: 3, smtp: { port: 2525 } });
		await laptop.context.close();
		await phone.context.close();
	});

	it('“Use the server’s version” takes the laptop’s copy and sends nothing; the list points at the conflict', async () => {
		const integration = await seedIntegration();
		const mailbox = await seedMailbox(integration.id, { name: 'Original name' });
		const { laptop, phone } = await makeConflict(mailbox);

		// The list says which mailbox is in conflict and leads back to the comparison.
		await phone.page.getByRole('link', { name: 'Mailboxes', exact: true }).first().click();
		const row = mailboxRow(phone.page, mailbox.address);
		await expect.poll(() => syncBadge(row).textContent()).toBe('Conflict');
		await row.getByRole('link', { name: `Compare versions of ${mailbox.address}` }).click();
		await phone.page.getByRole('heading', { name: 'This mailbox was changed on the server' }).waitFor();

		const calls = recordApiCalls(phone.page);
		await phone.page.getByRole('button', { name: 'Use the server’s version' }).click();
		await expect.poll(() => field(phone.page, 'Mailbox name').inputValue()).toBe('Named on the laptop');
		expect(await field(phone.page, 'Port').inputValue()).toBe('587');
		expect(await syncBadge(phone.page.getByRole('main')).first().textContent()).toBe('Synced');
		expect(calls.filter((call) => !call.startsWith('GET '))).toEqual([]);
		expect(await getMailbox(mailbox.id)).toMatchObject({ name: 'Named on the laptop', version: 2, smtp: { port: 587 } });
		await laptop.context.close();
		await phone.context.close();
	});

	it('a channel integration renamed on two devices: the second chooses, with both names shown', async () => {
		const integration = await seedIntegration();
		const openIntegrations = async () => {
			const device = await newPage(browser.current);
			await signIn(device.page);
			await device.page.getByRole('link', { name: 'Channel integrations' }).click();
			await device.page.getByRole('button', { name: `Rename ${integration.name}` }).click();
			return device;
		};
		const laptop = await openIntegrations();
		const phone = await openIntegrations();
		const laptopName = unique('Laptop name');
		const phoneName = unique('Phone name');
		await laptop.page.getByLabel(`New name for ${integration.name}`, { exact: true }).fill(laptopName);
		await laptop.page.getByRole('button', { name: 'Save name' }).click();
		await laptop.page.getByRole('listitem').filter({ hasText: laptopName }).filter({ hasText: 'Synced' }).waitFor();

		await phone.page.getByLabel(`New name for ${integration.name}`, { exact: true }).fill(phoneName);
		await phone.page.getByRole('button', { name: 'Save name' }).click();
		const choice = phone.page.getByRole('region', { name: `“${phoneName}” was renamed on another device` });
		await choice.waitFor();
		expect(await choice.getByRole('row').filter({ hasText: 'Integration name' }).textContent()).toContain(laptopName);
		expect(await choice.getByRole('row').filter({ hasText: 'Integration name' }).textContent()).toContain(phoneName);

		await choice.getByRole('button', { name: 'Keep my version' }).click();
		await phone.page.getByRole('listitem').filter({ hasText: phoneName }).filter({ hasText: 'Synced' }).waitFor();
		const { body: onServer } = await callApi('GET', `/api/integrations/${integration.id}`);
		expect(onServer).toMatchObject({ name: phoneName, version: 3 });
		await laptop.context.close();
		await phone.context.close();
	});
});
