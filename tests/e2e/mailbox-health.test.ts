/**
 * Mailbox health on the list and the mailbox page: the last SMTP test, what became of the
 * mailbox's inbound mail over 24 hours and 30 days (filled through the real email() handler),
 * the most common rejection, links into the log; and pages that still work when the counts
 * cannot be loaded.
 *
 * Rows cannot be aged through the handler, so both windows hold the same fresh deliveries here;
 * the split itself is covered by the Worker tests (tests/worker/email-log.test.ts).
 */
import type { BrowserContext, Locator, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
	adminToken,
	baseUrl,
	callApi,
	installedPage,
	mailboxRow,
	maybeScreenshot,
	readLogCache,
	recordApiCalls,
	signIn,
	uniqueAddress,
	useBrowser
} from './helpers';
import { deliverMail, publishZone, seedServiceMailbox } from './mail';

const browser = useBrowser();

const dmarcReason = (domain: string) =>
	`550 5.7.1 Unauthenticated email from ${domain} is not accepted due to domain's DMARC policy`;

let desk: { id: string; address: string };
let quiet: { id: string; address: string };
/** The rejection this file sends twice (the other reason only once). */
let topReason: string;

beforeAll(async () => {
	const [zone, otherZone] = await Promise.all([publishZone(), publishZone()]);
	[desk, quiet] = await Promise.all([seedServiceMailbox('Health desk'), seedServiceMailbox('Quiet desk')]);
	topReason = dmarcReason(zone.reject);
	await Promise.all([
		deliverMail({ from: `ann@${zone.pass}`, to: desk.address }),
		deliverMail({ from: `ben@${zone.pass}`, to: desk.address }),
		deliverMail({ from: `quin@${zone.quarantine}`, to: desk.address }),
		deliverMail({ from: `rex@${zone.reject}`, to: desk.address }),
		deliverMail({ from: `ray@${zone.reject}`, to: desk.address }),
		deliverMail({ from: `roy@${otherZone.reject}`, to: desk.address }),
		deliverMail({ from: `ann@${zone.pass}`, to: uniqueAddress('nobody') })
	]);
});

/** A signed-in context (the token where the sign-in link leaves it); options as `newContext` takes them. */
async function signedInContext(options: { serviceWorkers?: 'block' } = {}): Promise<BrowserContext> {
	const context = await browser.current.newContext({ baseURL: baseUrl, ...options });
	context.setDefaultTimeout(10_000);
	await context.addInitScript((token) => localStorage.setItem('mailgate.adminToken', token), adminToken);
	return context;
}

/** An element's text with its runs of white space as single spaces. */
const textOf = async (locator: Locator) => ((await locator.textContent()) ?? '').replace(/\s+/g, ' ').trim();

const healthOf = (page: Page, address: string) => mailboxRow(page, address).locator('[data-mailbox-health]');

/**
 * The health counts the app keeps on this device: how many records, and the mailbox ids and load
 * time of the 'all' record (null when nothing is kept).
 */
async function cachedHealth(page: Page): Promise<{ records: number; mailboxIds: (string | null)[]; loadedAt: string } | null> {
	const health = (await readLogCache(page))?.health ?? [];
	const all = health.find((record) => record.key === 'all');
	if (!all) return health.length === 0 ? null : { records: health.length, mailboxIds: [], loadedAt: '' };
	return { records: health.length, mailboxIds: all.mailboxIds ?? [], loadedAt: all.loadedAt };
}

/** The mailbox page panel's accepted, quarantined and rejected counts, per window. */
async function panelCounts(panel: Locator): Promise<Record<string, Array<string | null>>> {
	const counts: Record<string, Array<string | null>> = {};
	for (const window of ['24h', '30d']) {
		const count = (verdict: string) => panel.locator(`[data-window="${window}"] [data-count="${verdict}"] dd`).textContent();
		counts[window] = [await count('accepted'), await count('quarantined'), await count('rejected')];
	}
	return counts;
}

describe('mailbox health', () => {
	it('the API counts what was delivered, and names the most common rejection', async () => {
		const { status, body } = await callApi('GET', `/api/mailbox-health?mailboxId=${desk.id}`);
		expect(status).toBe(200);
		const counts = { accepted: 2, quarantined: 1, rejected: 3 };
		expect(body.items).toEqual([
			{
				mailboxId: desk.id,
				last24h: counts,
				last30d: counts,
				topRejection: { reason: topReason, count: 2 },
				lastReceivedAt: expect.any(String),
				// No replies from this mailbox: every reply count is zero (SPEC §10).
				outbound: { last24h: { sent: 0, failed: 0, bounced: 0, limitDeferred: 0 }, last30d: { sent: 0, failed: 0, bounced: 0, limitDeferred: 0 }, lastSentAt: null }
			}
		]);
	});

	it('shows each row’s counts from one call for the whole list, with links into the log', async () => {
		const context = await signedInContext();
		const page = await context.newPage();
		const calls = recordApiCalls(page);
		await page.goto('/');
		const health = healthOf(page, desk.address);
		await health.locator('[data-window="24h"]').waitFor();
		expect(await textOf(health.locator('[data-window="24h"]'))).toBe('24 h: 2 accepted, 1 quarantined, 3 rejected');
		expect(await textOf(health.locator('[data-window="30d"]'))).toBe('30 days: 2 accepted, 1 quarantined, 3 rejected');
		const top = health.locator('[data-top-rejection]');
		expect(await textOf(top)).toBe(`Most common rejection (2 times): ${topReason}`);
		expect(await textOf(healthOf(page, quiet.address).locator('[data-window="24h"]'))).toBe('24 h: no mail');
		expect(await healthOf(page, quiet.address).locator('[data-top-rejection]').count()).toBe(0);
		// The SMTP test keeps its own column.
		expect(await mailboxRow(page, desk.address).getByRole('cell').nth(3).textContent()).toContain('Not tested yet');

		expect(calls.filter((call) => call === 'GET /api/mailbox-health')).toHaveLength(1);
		await maybeScreenshot(page, 'health-list');
		// The extra column keeps the table inside the page's content width.
		const [table, main] = await Promise.all([page.getByRole('table').boundingBox(), page.locator('#main').boundingBox()]);
		expect(table!.x + table!.width).toBeLessThanOrEqual(main!.x + main!.width);
		const viewLog = page.getByRole('link', { name: `View log of ${desk.address}` });
		expect(await viewLog.getAttribute('href')).toBe(`/log?mailboxId=${desk.id}`);
		// Deliveries to addresses that are not service addresses are pointed out under the list.
		expect(await page.getByRole('link', { name: 'View them in the email log' }).getAttribute('href')).toBe('/log?mailboxId=none');

		await page.getByRole('link', { name: `View rejections of ${desk.address}` }).click();
		await page.waitForURL((url) => url.pathname === '/log' && url.search === `?mailboxId=${desk.id}&verdict=rejected`);
		await expect.poll(() => page.locator('[data-log-id]').count()).toBe(3);
		expect(await page.locator('[data-log-id][data-verdict="rejected"]').count()).toBe(3);
		await context.close();
	});

	it('shows the fuller panel on the mailbox page', async () => {
		const context = await signedInContext();
		const page = await context.newPage();
		await page.goto(`/mailboxes/${desk.id}`);
		const panel = page.getByRole('region', { name: 'Mailbox health' });
		await panel.locator('[data-window="24h"]').waitFor();
		expect(await panelCounts(panel)).toEqual({ '24h': ['2', '1', '3'], '30d': ['2', '1', '3'] });
		await maybeScreenshot(page, 'health-mailbox');
		expect(await panel.getByRole('heading', { name: 'Last 24 hours' }).count()).toBe(1);
		expect(await panel.getByRole('heading', { name: 'Last 30 days' }).count()).toBe(1);
		expect(await textOf(panel.locator('[data-top-rejection]'))).toBe(`Most common rejection (2 times): ${topReason}`);
		expect(await panel.textContent()).toContain('No SMTP test has run yet');
		expect(await panel.textContent()).toContain('Last delivery:');
		expect(await panel.getByRole('link', { name: 'View log' }).getAttribute('href')).toBe(`/log?mailboxId=${desk.id}`);
		expect(await panel.getByRole('link', { name: 'View rejections' }).getAttribute('href')).toBe(
			`/log?mailboxId=${desk.id}&verdict=rejected`
		);

		// A mailbox with no mail says so.
		await page.goto(`/mailboxes/${quiet.id}`);
		await page.getByRole('region', { name: 'Mailbox health' }).getByText('No mail in the last 30 days.').waitFor();
		await context.close();
	});

	it('keeps the last loaded counts offline on the list and the mailbox page, and forgets them on sign-out', async () => {
		const { context, page } = await installedPage(browser.current);
		const list = healthOf(page, desk.address);
		await list.locator('[data-window="24h"]').waitFor();
		// Online, the whole list's answer is kept on the device in the background, as one record.
		await expect
			.poll(async () => (await cachedHealth(page))?.mailboxIds ?? [])
			.toEqual(expect.arrayContaining([desk.id, null]));
		const { records, loadedAt } = (await cachedHealth(page))!;
		expect(records).toBe(1);

		// Offline, the list shows the same counts, with one note for the whole list saying when.
		await context.setOffline(true);
		await page.reload();
		await list.locator('[data-window="24h"]').waitFor();
		expect(await textOf(list.locator('[data-window="24h"]'))).toBe('24 h: 2 accepted, 1 quarantined, 3 rejected');
		expect(await textOf(list.locator('[data-window="30d"]'))).toBe('30 days: 2 accepted, 1 quarantined, 3 rejected');
		expect(await textOf(list.locator('[data-top-rejection]'))).toBe(`Most common rejection (2 times): ${topReason}`);
		expect(await textOf(healthOf(page, quiet.address).locator('[data-window="24h"]'))).toBe('24 h: no mail');
		const listNote = page.locator('[data-stale]');
		expect(await listNote.count()).toBe(1);
		expect(await textOf(listNote)).toMatch(/^Inbound mail counts as of .+, offline\.$/);
		expect(await listNote.locator('time').getAttribute('datetime')).toBe(loadedAt);
		expect(await mailboxRow(page, desk.address).locator('[data-stale]').count()).toBe(0);
		await maybeScreenshot(page, 'health-list-offline');

		// The mailbox page reads its row out of the same copy, and says so inside the panel.
		await page.goto(`/mailboxes/${desk.id}`);
		await page.getByRole('heading', { level: 1, name: `Edit ${desk.address}` }).waitFor();
		const panel = page.getByRole('region', { name: 'Mailbox health' });
		await panel.locator('[data-window="24h"]').waitFor();
		expect(await panelCounts(panel)).toEqual({ '24h': ['2', '1', '3'], '30d': ['2', '1', '3'] });
		expect(await textOf(panel.locator('[data-top-rejection]'))).toBe(`Most common rejection (2 times): ${topReason}`);
		const panelNote = panel.locator('[data-stale]');
		expect(await textOf(panelNote)).toMatch(/^Mail counts as of .+, offline\.$/);
		expect(await panelNote.locator('time').getAttribute('datetime')).toBe(loadedAt);
		expect(await panel.textContent()).toContain('No SMTP test has run yet');
		await maybeScreenshot(page, 'health-mailbox-offline');

		// Back online, the live counts replace the copy (and the mailbox page keeps the whole list's copy).
		await context.setOffline(false);
		await panelNote.waitFor({ state: 'detached' });
		expect((await panelCounts(panel))['24h']![2]).toBe('3');
		await expect.poll(async () => (await cachedHealth(page))?.loadedAt).not.toBe(loadedAt);
		expect(await cachedHealth(page)).toMatchObject({ records: 1, mailboxIds: expect.arrayContaining([desk.id, null]) });

		// Signing out forgets them (the rejection reasons name customers' domains).
		await page.getByRole('button', { name: 'Sign out' }).click();
		await page.waitForURL((url) => url.pathname === '/login');
		await expect.poll(() => cachedHealth(page)).toBeNull();

		// Nothing kept: signed in again with no connection, the device has no copy of anything
		// (sign-out clears the mailboxes with the counts and the drafts, issue 18), so no counts show.
		await context.setOffline(true);
		await page.goto('about:blank'); // the sign-in link from another page, not a hash change on /login
		await signIn(page);
		await page.getByText('This device has no copy of your mailboxes yet.').waitFor();
		expect(await page.locator('[data-window]').count()).toBe(0);
		expect(await page.locator('[data-stale]').count()).toBe(0);
		await context.close();

		// Online, but the counts fail: the list is there all the same.
		const failing = await signedInContext({ serviceWorkers: 'block' });
		await failing.route('**/api/mailbox-health', (route) => route.fulfill({ status: 500, json: { error: { code: 'internal', message: 'Boom' } } }));
		const listPage = await failing.newPage();
		await listPage.goto('/');
		await healthOf(listPage, desk.address).getByText('Mail counts could not be loaded.').waitFor();
		expect(await listPage.getByRole('link', { name: `Edit ${desk.address}` }).count()).toBe(1);
		await failing.close();
	});
});
