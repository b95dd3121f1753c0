/**
 * Replying from an inbound message's page (SPEC §10 "In the app"), through the real queue
 * consumer under `wrangler dev` and a real SMTP server (smtp-peer.ts): online, the reply leaves
 * as the mailbox with In-Reply-To and links to its Sent mail page; written offline, it waits in
 * IndexedDB with its state shown and leaves once back online, exactly once, even when the
 * answer to its first request is lost.
 */
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { callApi, field, installedPage, maybeScreenshot, newPage, readReplies, signIn, unique, useBrowser } from './helpers';
import { bodyOf, deliverMail, headerOf, publishZone, receivedWithSubject, seedPeerMailbox } from './mail';

const browser = useBrowser();

/** How long the queue consumer may take: its 2-second batch window and one SMTP session. */
const DELIVERY_MS = 30_000;

let zone: Awaited<ReturnType<typeof publishZone>>;
let desk: { id: string; address: string };

beforeAll(async () => {
	zone = await publishZone();
	desk = await seedPeerMailbox('Reply desk');
});

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
		expect(await replyItem(page).locator('[data-sync-state]').innerText()).toBe('Queued for sending');
		await replyItem(page).getByRole('link', { name: 'Follow it in Sent mail' }).click();
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
		expect(bodyOf(mail)).toContain('Hello Alice,\nyour order ships today.');
		await context.close();
	});

	it('keeps a reply written offline in IndexedDB, shows its state, and sends it once back online, exactly once', async () => {
		const subject = unique('Broken zipper');
		const inbound = await deliverMail({ from: `bob@${zone.pass}`, to: desk.address, subject });
		const { context, page } = await installedPage(browser.current);
		// Opened online once, so the message is on this device.
		await page.goto(`/log/${inbound.logId}`);
		await page.getByRole('heading', { level: 1, name: subject }).waitFor();

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
		await expect.poll(() => item.getAttribute('data-reply-state'), { timeout: 20_000 }).toBe('synced');
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
