import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
	DESKTOP,
	PHONE,
	launchBrowser,
	maybeScreenshot,
	midWordBreaks,
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

/** A 390×844 phone (SPEC §16: the first screen shows the page's first useful content). */
const PHONE_390 = { width: 390, height: 844 };


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

	it('on a 390×844 phone: the navigation is one row with a menu, the list shows first, no address is broken mid-word', async () => {
		const { context, page } = await newPage(browser, PHONE_390);
		await signIn(page);
		await visit(page, '/', listLoaded);
		await maybeScreenshot(page, 'phone390-list', { viewportOnly: true });
		// The whole header is one row of touch targets, not three.
		const header = await page.getByRole('banner').boundingBox();
		expect(header!.height).toBeLessThanOrEqual(60);
		// The first mailbox card starts within the first screen, its address with room to spare.
		const firstRow = await page.locator('tbody tr').first().boundingBox();
		expect(firstRow!.y).toBeLessThan(PHONE_390.height / 2);
		const seeded = page.locator('tbody tr').filter({ hasText: address }).locator('.address');
		expect(await seeded.count()).toBe(1);
		for (const element of await page.locator('tbody .address').all()) {
			expect(await midWordBreaks(element), await element.innerText()).toEqual([]);
		}
		expect(await scrollWidth(page)).toBeLessThanOrEqual(PHONE_390.width);

		// The pages are one Menu away, and choosing one closes the menu.
		const menu = page.getByRole('button', { name: 'Menu' });
		expect(await page.getByRole('link', { name: 'Email log', exact: true }).isVisible()).toBe(false);
		await menu.click();
		expect(await menu.getAttribute('aria-expanded')).toBe('true');
		await maybeScreenshot(page, 'phone390-menu', { viewportOnly: true });
		await page.getByRole('link', { name: 'Email log', exact: true }).click();
		await page.waitForURL((url) => url.pathname === '/log');
		await expect.poll(() => menu.getAttribute('aria-expanded')).toBe('false');
		expect(await page.getByRole('link', { name: 'Email log', exact: true }).isVisible()).toBe(false);
		await context.close();
	});

	it('says what was not found, with a link home, for an unknown page or record', async () => {
		const { context, page } = await newPage(browser, PHONE_390);
		// Not even signed in: an unknown address is simply not found.
		await page.goto('/no-such-page');
		await page.getByRole('heading', { level: 1, name: 'Page not found' }).waitFor();
		expect(await page.getByRole('main').innerText()).toContain('/no-such-page');
		await maybeScreenshot(page, 'phone390-404', { viewportOnly: true });
		await page.getByRole('main').getByRole('link', { name: 'Go to the mailboxes' }).click();
		await page.waitForURL((url) => url.pathname === '/');

		await signIn(page);
		const unknown = crypto.randomUUID();
		const records: [string, string, string][] = [
			[`/mailboxes/${unknown}`, 'Mailbox not found', '/'],
			[`/log/${unknown}`, 'Message not found', '/log'],
			[`/sent/${unknown}`, 'Message not found', '/sent'],
			[`/integrations/${unknown}`, 'Channel integration not found', '/integrations']
		];
		for (const [path, heading, back] of records) {
			await page.goto(path);
			await page.getByRole('heading', { level: 1, name: heading }).waitFor();
			expect(await page.getByRole('main').getByRole('link').first().getAttribute('href'), path).toBe(back);
		}
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
		expect(await midWordBreaks(page.locator('tbody tr').filter({ hasText: address }).locator('.address'))).toEqual([]);
		await visit(page, `/mailboxes/${mailboxId}`, formLoaded);
		await maybeScreenshot(page, 'desktop-edit');
		expect(await scrollWidth(page)).toBeLessThanOrEqual(DESKTOP.width);
		await context.close();
	});
});
