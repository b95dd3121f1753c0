/**
 * Replying from an inbound message's page (SPEC §10 "In the app"), through the real queue
 * consumer under `wrangler dev` and a real SMTP server (smtp-peer.ts): online, the reply leaves
 * as the mailbox with In-Reply-To and links to its Sent mail page; written offline, it waits in
 * IndexedDB with its state shown and leaves once back online, exactly once, even when the
 * answer to its first request is lost.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DESKTOP, PHONE, callApi, field, installedPage, maybeScreenshot, newPage, readReplies, scrollWidth, signIn, storedKeys, unique, useBrowser } from './helpers';
import { seedHeldMailbox, startHeldPeer, type HeldPeer } from './held-peer';
import { bodyOf, deliverMail, headerOf, publishZone, receivedWithSubject, seedPeerMailbox } from './mail';

const browser = useBrowser();

/** How long the queue consumer may take: its 2-second batch window and one SMTP session. */
const DELIVERY_MS = 30_000;

let zone: Awaited<ReturnType<typeof publishZone>>;
let desk: { id: string; address: string };
let peer: HeldPeer;

beforeAll(async () => {
	zone = await publishZone();
	desk = await seedPeerMailbox('Reply desk');
	peer = await startHeldPeer();
});
afterAll(() => peer?.close());

const replySection = (page: Page) => page.getByRole('region', { name: 'Reply' });
const replyItem = (page: Page) => replySection(page).locator('[data-reply]');

/** Opens the message page and writes a reply (To and Subject as the form fills them in). */
async function writeReply(page: Page, logId: string, text: string): Promise<void> {
	await page.goto(`/log/${logId}`);
	await replySection(page).getByRole('button', { name: 'Reply', exact: true }).click();
	await field(page, 'Message').fill(text);
}

describe('Reply from the message page', () => {
	it('sends as the mailbox with In-Reply-To, says it is queued and links to the sent message', async () => {
		const subject = unique('Where is my order');
		const inbound = await deliverMail({ from: `alice@${zone.pass}`, to: desk.address, subject });
		const { context, page } = await newPage(browser.current);
		await signIn(page);
		await writeReply(page, inbound.logId, 'Hello Alice,\nyour order ships today.');
		expect(await field(page, 'To').inputValue()).toBe(`alice@${zone.pass}`);
		expect(await field(page, 'Subject').inputValue()).toBe(`Re: ${subject}`);
		// The mailbox's name arrives with the mailbox list, which may load after the message.
		await replySection(page).getByText(`Sent as “Reply desk” <${desk.address}>`).waitFor();
		await maybeScreenshot(page, 'reply-form');
		await replySection(page).getByRole('button', { name: 'Send reply' }).click();

		await expect.poll(() => replyItem(page).getAttribute('data-reply-state'), { timeout: 20_000 }).toBe('synced');
		// Its status as the server has it, followed on the page until it is sent.
		await expect.poll(() => replyItem(page).getAttribute('data-status'), { timeout: DELIVERY_MS }).toBe('sent');
		expect(await replyItem(page).innerText()).toMatch(/Sent\. The mailbox’s SMTP server accepted it at .+\./);
		await replyItem(page).getByRole('link', { name: 'Open it in Sent mail' }).click();
		await page.locator('article[data-status="sent"]').waitFor({ timeout: DELIVERY_MS });
		expect(await page.getByTestId('in-reply-to').innerText()).toContain(`<${inbound.messageId}>`);
		await page.getByTestId('in-reply-to').getByRole('link', { name: subject }).waitFor();

		const arrived = await receivedWithSubject(`Re: ${subject}`);
		expect(arrived).toHaveLength(1);
		const mail = arrived[0]!;
		expect(mail.from).toBe(desk.address);
		expect(mail.to).toEqual([`alice@${zone.pass}`]);
		expect(headerOf(mail, 'From')).toMatch(new RegExp(`^"?Reply desk"? <${desk.address.replace(/[.+]/g, '\\$&')}>$`));
		expect(headerOf(mail, 'In-Reply-To')).toBe(`<${inbound.messageId}>`);
		// Text parts travel with CRLF line ends (RFC 2046 §4.1.1), whatever the textarea gave.
		expect(bodyOf(mail)).toContain('Hello Alice,\r\nyour order ships today.');
		await context.close();
	});

	it('lists every reply to the message, any device’s, each with its current status changing on the page without a reload', async () => {
		const live = await seedHeldMailbox(peer, 'Live desk');
		const subject = unique('Lost parcel');
		const inbound = await deliverMail({ from: `carol@${zone.pass}`, to: live.address, subject });
		// The help desk (another device) answers first; the peer holds it at DATA: it stays "sending".
		peer.hold = true;
		peer.answer = 'accept';
		const elsewhere = await callApi('POST', `/api/mailboxes/${live.id}/outbound`, { to: [`carol@${zone.pass}`], text: 'From the desk.', inReplyTo: inbound.logId });
		expect(elsewhere.status).toBe(202);
		await expect.poll(() => peer.held, { timeout: DELIVERY_MS }).toBe(1);

		const { context, page } = await newPage(browser.current);
		await signIn(page);
		await page.goto(`/log/${inbound.logId}`);
		// Set on the page: a reload would lose it.
		await page.evaluate(() => ((window as unknown as { marker: string }).marker = 'no reload'));
		const fromDesk = replySection(page).locator(`[data-reply="${elsewhere.body.id}"]`);
		await fromDesk.waitFor();
		expect(await fromDesk.getAttribute('data-status')).toBe('sending');
		expect(await fromDesk.innerText()).toContain('from the help desk or another device');

		// A reply written here joins the list with its server status.
		await replySection(page).getByRole('button', { name: 'Reply', exact: true }).click();
		await field(page, 'Message').fill('From this page.');
		await replySection(page).getByRole('button', { name: 'Send reply' }).click();
		const mine = replySection(page).locator('[data-reply]').filter({ hasText: 'From this page.' });
		await expect.poll(() => mine.getAttribute('data-status'), { timeout: 20_000 }).toMatch(/^(queued|sending)$/);
		await maybeScreenshot(page, 'reply-list-moving');

		// The peer lets them through: both turn "Sent" on the page by themselves.
		peer.release();
		await expect.poll(() => fromDesk.getAttribute('data-status'), { timeout: DELIVERY_MS }).toBe('sent');
		await expect.poll(() => mine.getAttribute('data-status'), { timeout: DELIVERY_MS }).toBe('sent');

		// Another reply from the help desk, to an address that does not exist: it appears, then fails,
		// saying the address is wrong, with no Retry (retrying the same address cannot help).
		peer.answer = 'no-such-mailbox';
		const wrong = await callApi('POST', `/api/mailboxes/${live.id}/outbound`, { to: [`nobody@${zone.pass}`], text: 'Hello?', inReplyTo: inbound.logId });
		const refused = replySection(page).locator(`[data-reply="${wrong.body.id}"]`);
		await refused.waitFor({ timeout: DELIVERY_MS });
		await expect.poll(() => refused.getAttribute('data-status'), { timeout: DELIVERY_MS }).toBe('failed');
		expect(await refused.innerText()).toContain('Not sent: the address is wrong. Retrying cannot change that. The help desk must reply to a corrected address.');
		expect(await refused.innerText()).toContain('550 5.1.1');
		expect(await refused.getByRole('button', { name: /^Retry/ }).count()).toBe(0);
		expect(await replySection(page).locator('[data-reply]').count()).toBe(3);
		expect(await page.evaluate(() => (window as unknown as { marker?: string }).marker)).toBe('no reload');
		await page.setViewportSize(PHONE);
		expect(await scrollWidth(page)).toBeLessThanOrEqual(PHONE.width);
		await maybeScreenshot(page, 'reply-list-phone');
		peer.answer = 'accept';
		await context.close();
	});

	it('keeps a reply written offline in IndexedDB, shows its state, and sends it once back online, exactly once', async () => {
		const subject = unique('Broken zipper');
		const inbound = await deliverMail({ from: `bob@${zone.pass}`, to: desk.address, subject });
		const { context, page } = await installedPage(browser.current);
		// Opened online once, so the message is on this device (kept just after it shows: waited for,
		// as a person going offline a second later would find it).
		await page.goto(`/log/${inbound.logId}`);
		await page.getByRole('heading', { level: 1, name: subject }).waitFor();
		await expect.poll(() => storedKeys(page, 'mailgate-log', 'messages')).toContain(inbound.logId);

		await context.setOffline(true);
		await writeReply(page, inbound.logId, 'Hello Bob, a new one is on its way.');
		await replySection(page).getByRole('button', { name: 'Send reply' }).click();
		const item = replyItem(page);
		await item.waitFor();
		expect(await item.getAttribute('data-reply-state')).toBe('local');
		expect(await item.innerText()).toContain('Saved on this device. It is sent when the connection is back.');
		await page.getByRole('status').filter({ hasText: '1 change waiting to sync' }).waitFor();
		const stored = await readReplies(page);
		const waiting = stored.find((reply) => reply.draft.inReplyTo === inbound.logId);
		expect(waiting).toMatchObject({ state: 'local', server: null, draft: { to: [`bob@${zone.pass}`], subject: `Re: ${subject}` } });
		await maybeScreenshot(page, 'reply-offline');

		// Sent mail, offline, lists it at the top as waiting on this device, linked to its message.
		await page.getByRole('link', { name: 'Sent mail', exact: true }).first().click();
		const waitingPanel = page.getByRole('region', { name: 'Waiting on this device' });
		await waitingPanel.waitFor();
		const waitingRow = waitingPanel.locator(`[data-local-reply="${waiting!.id}"]`);
		expect(await waitingRow.innerText()).toContain(`Re: ${subject}`);
		expect(await waitingRow.innerText()).toContain('It is sent when the connection is back.');
		// Above the list (or its offline notice).
		expect(await page.locator('main h2, main [data-stale]').first().innerText()).toBe('Waiting on this device');
		await maybeScreenshot(page, 'sent-waiting-offline');
		await page.setViewportSize(PHONE);
		expect(await scrollWidth(page)).toBeLessThanOrEqual(PHONE.width);
		await maybeScreenshot(page, 'sent-waiting-offline-phone', { viewportOnly: true });
		await page.setViewportSize(DESKTOP);
		await waitingRow.getByRole('link', { name: 'Open the message it answers' }).click();
		await page.getByRole('heading', { level: 1, name: subject }).waitFor();

		// Back online, the first request reaches the server but its answer is lost: the sync
		// engine sends it again under the same id, and the server answers with the first message.
		let requests = 0;
		await page.route('**/api/mailboxes/*/outbound', async (route) => {
			requests += 1;
			const response = await route.fetch();
			if (requests === 1) await route.abort('connectionreset');
			else await route.fulfill({ response });
		});
		await context.setOffline(false);
		// The page may list it from the server before this device hears back: the device's own copy says when it did.
		await expect.poll(async () => (await readReplies(page)).find((reply) => reply.id === waiting!.id)?.state, { timeout: 20_000 }).toBe('synced');
		await expect.poll(() => item.getAttribute('data-reply-state')).toBe('synced');
		expect(requests).toBe(2);
		await page.getByRole('status').filter({ hasText: /waiting to sync/ }).waitFor({ state: 'detached' });
		const sent = (await readReplies(page)).find((reply) => reply.id === waiting!.id);
		expect(sent?.state).toBe('synced');

		await expect.poll(async () => (await receivedWithSubject(`Re: ${subject}`)).length, { timeout: DELIVERY_MS }).toBe(1);
		const { body } = await callApi('GET', `/api/outbound?mailboxId=${desk.id}`);
		const mine = (body.items as Array<{ id: string; subject: string }>).filter((outbound) => outbound.subject === `Re: ${subject}`);
		expect(mine.map((outbound) => outbound.id)).toEqual([sent!.server!.id]);
		// Still one a batch window later: nothing else was queued.
		await new Promise((resolve) => setTimeout(resolve, 3_000));
		expect(await receivedWithSubject(`Re: ${subject}`)).toHaveLength(1);
		await context.close();
	});
});
