import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
	DESKTOP,
	PHONE,
	launchBrowser,
	maybeScreenshot,
	newPage,
	scrollWidth,
	seedIntegration,
	seedMailbox,
	signIn
} from './helpers';

let browser: Browser;
let mailboxId: string;
let address: string;
let integrationName: string;
beforeAll(async () => {
	browser = await launchBrowser();
	// A long name and address make overflow likely if the layout does not wrap.
	const integration = await seedIntegration(`Acme Europe, Middle East and Africa support ${Date.now()}`);
	integrationName = integration.name;
	const mailbox = await seedMailbox(integration.id, {
		name: 'Acme customer support for Europe, the Middle East and Africa',
		address: `customer-support-emea-${Date.now()}@mail.acme-corporation.example`
	});
	mailboxId = mailbox.id;
	address = mailbox.address;
});
afterAll(async () => {
	await browser?.close();
});

/** Opens `path` and waits until its data has loaded (`ready` is visible), not just the heading. */
async function visit(page: Page, path: string, ready: (page: Page) => Locator) {
	await page.goto(path);
	await ready(page).first().waitFor();
}

const listLoaded = (page: Page) => page.getByRole('link', { name: `Edit ${address}` });
const formLoaded = (page: Page) => page.getByLabel('Associated channel integration', { exact: true });
const integrationsLoaded = (page: Page) => page.getByRole('listitem').filter({ hasText: integrationName });

describe('layout', () => {
	it('has no horizontal scroll on a 360px wide phone', async () => {
		const { context, page } = await newPage(browser, PHONE);
		await signIn(page);
		const pages: [string, (page: Page) => Locator, string][] = [
			['/', listLoaded, 'phone-list'],
			['/mailboxes/new', formLoaded, 'phone-new'],
			[`/mailboxes/${mailboxId}`, formLoaded, 'phone-edit'],
			['/integrations', integrationsLoaded, 'phone-integrations']
		];
		for (const [path, ready, shot] of pages) {
			await visit(page, path, ready);
			await maybeScreenshot(page, shot);
			expect(await scrollWidth(page), path).toBeLessThanOrEqual(PHONE.width);
		}
		// The table is stacked into cards: the column headers are not shown as a row.
		await visit(page, '/', listLoaded);
		expect(await page.locator('thead').evaluate((head) => head.getBoundingClientRect().height)).toBeLessThanOrEqual(1);
		await context.close();
	});

	it('shows the mailbox table with its columns on a desktop', async () => {
		const { context, page } = await newPage(browser, DESKTOP);
		await signIn(page);
		await visit(page, '/', listLoaded);
		const headers = await page.getByRole('columnheader').allTextContents();
		expect(headers.slice(0, 4)).toEqual([
			'Channel integration',
			'Service email address',
			'Mailbox name',
			'Last SMTP test'
		]);
		await maybeScreenshot(page, 'desktop-list');
		await visit(page, `/mailboxes/${mailboxId}`, formLoaded);
		await maybeScreenshot(page, 'desktop-edit');
		expect(await scrollWidth(page)).toBeLessThanOrEqual(DESKTOP.width);
		await context.close();
	});
});
