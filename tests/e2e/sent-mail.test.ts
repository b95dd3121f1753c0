/**
 * Sent mail (SPEC §10 "In the app") with the real queue consumer under `wrangler dev` sending
 * through a real SMTP server (smtp-peer.ts): a reply the server refused at login is listed as
 * failed with the server's own words, the step and the hint; Retry, once the password is fixed,
 * sends it; the message page lays out both attempts; offline, the list and the message read
 * from this device, marked stale.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
	PHONE,
	callApi,
	field,
	getMailbox,
	installedPage,
	maybeScreenshot,
	newPage,
	scrollWidth,
	signIn,
	unique,
	useBrowser
} from './helpers';
import { QUOTA_REFUSAL, seedHeldMailbox, startHeldPeer, type HeldPeer } from './held-peer';
import { receivedWithSubject, seedPeerMailbox } from './mail';
import { PEER_AUTH_REFUSAL, PEER_PASSWORD } from './smtp-peer';

const browser = useBrowser();

let peer: HeldPeer;
beforeAll(async () => {
	peer = await startHeldPeer();
});
afterAll(() => peer?.close());

/** How long the queue consumer may take: its 2-second batch window and one SMTP session. */
const DELIVERY_MS = 30_000;

/** Follows a link of the main navigation, opening the phone's Menu first when it is folded there. */
async function navigate(page: Page, name: string): Promise<void> {
	const menu = page.getByRole('button', { name: 'Menu' });
	if (await menu.isVisible()) await menu.click();
	await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true }).click();
}

async function outboundStatus(id: string): Promise<string> {
	const { status, body } = await callApi('GET', `/api/outbound/${id}`);
	if (status !== 200) throw new Error(`Reading outbound ${id} failed: ${status}`);
	return body.status;
}

describe('Sent mail', () => {
	it('lists a reply refused at login with the server’s words and the step; Retry after fixing the password sends it', async () => {
		const desk = await seedPeerMailbox('Retry desk', 'not-the-password');
		const subject = unique('Your refund');
		const created = await callApi('POST', `/api/mailboxes/${desk.id}/outbound`, {
			to: ['customer@example.org'],
			subject,
			text: 'Your refund is on its way.'
		});
		expect(created.status).toBe(202);
		const id: string = created.body.id;
		await expect.poll(() => outboundStatus(id), { timeout: DELIVERY_MS }).toBe('failed');

		const { context, page } = await installedPage(browser.current);
		await page.setViewportSize(PHONE);
		// Opened once unfiltered, so that this view is on the device for the offline part below.
		await navigate(page, 'Sent mail');
		await page.getByRole('heading', { level: 1, name: 'Sent mail' }).waitFor();
		// The mailbox list counts the failure and links to it: the filters land in the URL and the form.
		await navigate(page, 'Mailboxes');
		await page.getByRole('link', { name: `1 failed from ${desk.address}` }).click();
		await page.waitForURL((url) => url.pathname === '/sent' && url.search === `?mailboxId=${desk.id}&status=failed`);
		expect(await field(page, 'Mailbox').inputValue()).toBe(desk.id);
		expect(await field(page, 'Status').inputValue()).toBe('failed');

		const row = page.locator(`[data-outbound-id="${id}"]`);
		await row.waitFor();
		expect(await row.getAttribute('data-status')).toBe('failed');
		expect(await row.locator('[data-status]').first().innerText()).toContain('Failed');
		expect(await row.innerText()).toContain('To customer@example.org');
		const problem = row.getByTestId('problem');
		expect(await problem.innerText()).toContain('Failed at: Log in');
		expect(await row.getByTestId('server-words').innerText()).toContain(`535 ${PEER_AUTH_REFUSAL}`);
		expect(await problem.innerText()).toMatch(/password/i);
		expect(await scrollWidth(page)).toBeLessThanOrEqual(PHONE.width);
		await maybeScreenshot(page, 'sent-failed-phone');

		// The admin fixes the password, then retries from the list: it leaves and arrives once.
		const mailbox = await getMailbox(desk.id);
		const { hasPassword: _hasPassword, ...smtp } = mailbox.smtp;
		const fixed = await callApi('PATCH', `/api/mailboxes/${desk.id}`, { smtp: { ...smtp, password: PEER_PASSWORD }, version: mailbox.version });
		expect(fixed.status).toBe(200);
		await row.getByRole('button', { name: /^Retry/ }).click();
		await expect.poll(() => row.getAttribute('data-status'), { timeout: DELIVERY_MS }).toBe('sent');
		expect(await row.getByTestId('problem').count()).toBe(0);
		const arrived = await receivedWithSubject(subject);
		expect(arrived).toHaveLength(1);
		expect(arrived[0]!.from).toBe(desk.address);
		expect(arrived[0]!.to).toEqual(['customer@example.org']);

		// The message page: both attempts, the refusal verbatim at its step, then the acceptance.
		await row.getByRole('link', { name: subject }).click();
		await page.getByRole('heading', { level: 1, name: subject }).waitFor();
		expect(await page.getByTestId('outcome').innerText()).toMatch(/^Sent\./);
		expect(await page.getByRole('definition').filter({ hasText: desk.address }).first().innerText()).toContain(
			`"Retry desk" <${desk.address}>`
		);
		const attempts = page.getByRole('list', { name: 'Attempts' }).locator(':scope > li');
		expect(await attempts.count()).toBe(2);
		expect(await attempts.nth(0).innerText()).toContain('Log in');
		expect(await attempts.nth(0).getByTestId('attempt-server-message').innerText()).toContain(PEER_AUTH_REFUSAL);
		expect(await attempts.nth(1).innerText()).toContain('Accepted by the server');
		expect(await scrollWidth(page)).toBeLessThanOrEqual(PHONE.width);
		await maybeScreenshot(page, 'sent-message-phone');

		// The mailbox page counts it as sent now.
		await page.goto(`/mailboxes/${desk.id}`);
		const counts24h = page.locator(`[data-mailbox-health="${desk.id}"] [data-window="24h"]`);
		await expect.poll(() => counts24h.locator('[data-reply-count="sent"] dd').textContent()).toBe('1');
		expect(await counts24h.locator('[data-reply-count="failed"] dd').textContent()).toBe('0');
		await page.goBack();
		await page.getByRole('heading', { level: 1, name: subject }).waitFor();

		// Offline: the message and the list as last loaded here, marked stale like the log.
		await context.setOffline(true);
		await page.reload();
		await page.getByRole('heading', { level: 1, name: subject }).waitFor();
		expect(await page.locator('[data-stale]').innerText()).toMatch(/^You’re offline\. Showing this message as loaded at .+; it may be stale\./);
		await navigate(page, 'Sent mail');
		const notice = page.locator('[data-stale]');
		await notice.waitFor();
		expect(await notice.innerText()).toMatch(/You’re offline\. Showing sent mail as loaded at .+; it may be stale\./);
		expect(await page.locator(`[data-outbound-id="${id}"]`).count()).toBe(1);
		await context.close();
	});

	it('a provider’s limit answer: the reply will retry, and the mailbox page and list say “Sending paused until” with the provider’s words', async () => {
		const desk = await seedHeldMailbox(peer, 'Quota desk');
		peer.answer = 'quota';
		try {
			const created = await callApi('POST', `/api/mailboxes/${desk.id}/outbound`, { to: ['erin@example.org'], subject: unique('Quota'), text: 'Later today.' });
			expect(created.status).toBe(202);
			await expect.poll(() => outboundStatus(created.body.id), { timeout: DELIVERY_MS }).toBe('deferred');
		} finally {
			peer.answer = 'accept';
		}
		const { context, page } = await newPage(browser.current);
		await signIn(page);
		const row = page.locator(`tr[data-mailbox-id="${desk.id}"]`);
		const listed = row.locator('[data-sending-paused]');
		await listed.waitFor();
		expect(await listed.innerText()).toMatch(/^Sending paused until .+: the provider’s limit\s+\(554 5\.2\.0 STOREDRV/);
		// Microsoft's long unbroken words are cut to the cell: the list stays inside the page.
		const [table, main] = await Promise.all([page.getByRole('table').boundingBox(), page.locator('#main').boundingBox()]);
		expect(table!.x + table!.width).toBeLessThanOrEqual(main!.x + main!.width);

		await page.goto(`/mailboxes/${desk.id}`);
		const notice = page.locator('[data-sending-paused]');
		await notice.waitFor();
		expect(await notice.innerText()).toMatch(/^Sending paused until .+: the provider’s limit\. Replies wait and leave by themselves then/);
		const until = (await getMailbox(desk.id)).smtp.pausedUntil!;
		expect(await notice.locator('time').getAttribute('datetime')).toBe(until);
		// An hour from the attempt: a daily quota is retried an hour at a time (SPEC §15).
		expect(Date.parse(until) - Date.now()).toBeGreaterThan(50 * 60_000);
		expect(await page.getByTestId('pause-reason').innerText()).toContain(QUOTA_REFUSAL);
		// Mailbox health counts it apart from failures.
		const waited = page.locator('[data-window="24h"] [data-limit-deferred]');
		await waited.waitFor();
		expect(await waited.innerText()).toBe('1 reply waited for the provider’s limit');
		expect(await page.locator('[data-window="24h"] [data-reply-count="failed"] dd').innerText()).toBe('0');
		await maybeScreenshot(page, 'mailbox-sending-paused');
		await context.close();
	});

	it('stays live: a new reply shows without a reload, a deferred one says when it is tried next, and Send now sends it', async () => {
		const desk = await seedHeldMailbox(peer, 'Live sent desk');
		peer.answer = 'tempfail';
		const { context, page } = await newPage(browser.current);
		await signIn(page);
		await page.goto(`/sent?mailboxId=${desk.id}`);
		await page.getByRole('heading', { name: 'Nothing sent yet' }).waitFor();
		await page.evaluate(() => ((window as unknown as { marker: string }).marker = 'no reload'));

		const subject = unique('Your exchange');
		const created = await callApi('POST', `/api/mailboxes/${desk.id}/outbound`, { to: ['dana@example.org'], subject, text: 'It ships Monday.' });
		expect(created.status).toBe(202);
		const row = page.locator(`[data-outbound-id="${created.body.id}"]`);
		// It appears on the open page, then its refusal: will retry, with the next try as a time to come.
		await row.waitFor({ timeout: DELIVERY_MS });
		await expect.poll(() => row.getAttribute('data-status'), { timeout: DELIVERY_MS }).toBe('deferred');
		const nextTry = row.getByTestId('next-try');
		expect(await nextTry.innerText()).toMatch(/^Next try at /);
		expect(Date.parse((await nextTry.locator('time').getAttribute('datetime'))!)).toBeGreaterThan(Date.now());
		expect(await row.getByTestId('server-words').innerText()).toContain('451 4.3.0');
		expect(await row.getByRole('button', { name: /^Retry/ }).count()).toBe(0);
		await maybeScreenshot(page, 'sent-deferred');

		// The server is fine again: Send now sends it at once, and the row says so by itself.
		peer.answer = 'accept';
		await row.getByRole('button', { name: /^Send now/ }).click();
		await expect.poll(() => row.getAttribute('data-status'), { timeout: DELIVERY_MS }).toBe('sent');
		expect(peer.accepted.filter((data) => data.includes(subject))).toHaveLength(1);
		expect(await page.evaluate(() => (window as unknown as { marker?: string }).marker)).toBe('no reload');

		// Its page: the attempts, and Send now gone once it left.
		await row.getByRole('link', { name: subject }).click();
		await page.getByRole('heading', { level: 1, name: subject }).waitFor();
		expect(await page.getByTestId('outcome').innerText()).toMatch(/^Sent\./);
		expect(await page.getByRole('button', { name: /^Send now/ }).count()).toBe(0);
		await context.close();
	});
});
