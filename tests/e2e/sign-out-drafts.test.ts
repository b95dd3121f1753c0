/**
 * issue 18 (low): signing out leaves nothing on the device that holds a secret or queued work.
 * A mailbox drafted offline keeps its SMTP password sealed in `mailgate`, and its operation in
 * the outbox; a reply written offline waits in `mailgate-replies`. Sign out says how much has
 * not synced, asks first, and then empties both databases (and the key that sealed the
 * password), as it already empties the log's and the integration pages' copies.
 */
import { randomBytes } from 'node:crypto';
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { addMailboxThroughForm, field, installedPage, mailboxRow, seedIntegration, storedKeys, uniqueAddress, useBrowser } from './helpers';
import { deliverMail, publishZone, seedPeerMailbox } from './mail';

const browser = useBrowser();

let zone: Awaited<ReturnType<typeof publishZone>>;
let desk: { id: string; address: string };

beforeAll(async () => {
	zone = await publishZone();
	desk = await seedPeerMailbox('Sign-out desk');
});

/** How many records each store of the app's two draft databases holds. */
function countDrafts(page: Page): Promise<Record<string, number>> {
	return page.evaluate(async () => {
		const counts: Record<string, number> = {};
		for (const name of ['mailgate', 'mailgate-replies']) {
			const db = await new Promise<IDBDatabase>((resolve, reject) => {
				const request = indexedDB.open(name);
				request.onsuccess = () => resolve(request.result);
				request.onerror = () => reject(request.error);
			});
			for (const store of Array.from(db.objectStoreNames)) {
				counts[`${name}/${store}`] = await new Promise<number>((resolve) => {
					const request = db.transaction(store).objectStore(store).count();
					request.onsuccess = () => resolve(request.result);
				});
			}
			db.close();
		}
		return counts;
	});
}

const dialog = (page: Page) => page.getByRole('dialog');

describe('signing out', () => {
	it('says what has not synced, asks, and then leaves no draft, password, outbox or reply on the device', async () => {
		const integration = await seedIntegration();
		const subject = `Sign-out ${randomBytes(3).toString('hex')}`;
		const inbound = await deliverMail({ from: `carol@${zone.pass}`, to: desk.address, subject });
		const { context, page } = await installedPage(browser.current, { integration: integration.name });
		// Opened online once, so the message is on this device (kept just after it shows: waited for,
		// as a person going offline a second later would find it).
		await page.goto(`/log/${inbound.logId}`);
		await page.getByRole('heading', { level: 1, name: subject }).waitFor();
		await expect.poll(() => storedKeys(page, 'mailgate-log', 'messages')).toContain(inbound.logId);

		await context.setOffline(true);
		// A reply written offline.
		await page.getByRole('region', { name: 'Reply' }).getByRole('button', { name: 'Reply', exact: true }).click();
		await field(page, 'Message').fill('Hello Carol, noted.');
		await page.getByRole('region', { name: 'Reply' }).getByRole('button', { name: 'Send reply' }).click();
		await page.getByRole('region', { name: 'Reply' }).locator('[data-reply-state="local"]').waitFor();
		// A mailbox drafted offline, with a password.
		await page.getByRole('link', { name: 'Mailboxes', exact: true }).first().click();
		const address = uniqueAddress('signout');
		await addMailboxThroughForm(page, { integration: integration.name, address, password: `pw-${randomBytes(6).toString('hex')}` });
		await mailboxRow(page, address).waitFor();
		await page.getByRole('status').filter({ hasText: '2 changes waiting to sync' }).waitFor();
		const before = await countDrafts(page);
		expect(before).toMatchObject({ 'mailgate/outbox': 1, 'mailgate/keys': 1, 'mailgate-replies/replies': 1 });
		expect(before['mailgate/mailboxes']).toBeGreaterThanOrEqual(1);

		// Cancel keeps everything, signed in.
		await page.getByRole('button', { name: 'Sign out' }).click();
		await dialog(page).waitFor();
		expect(await dialog(page).innerText()).toMatch(/1 change and 1 reply have not reached the server/);
		await dialog(page).getByRole('button', { name: 'Cancel' }).click();
		await dialog(page).waitFor({ state: 'hidden' });
		expect(await page.evaluate(() => localStorage.getItem('mailgate.adminToken'))).not.toBeNull();
		expect(await countDrafts(page)).toEqual(before);

		// Confirmed: signed out, and both databases are empty.
		await page.getByRole('button', { name: 'Sign out' }).click();
		await dialog(page).getByRole('button', { name: 'Sign out and discard them' }).click();
		await page.waitForURL((url) => url.pathname === '/login');
		expect(await page.evaluate(() => localStorage.getItem('mailgate.adminToken'))).toBeNull();
		const after = await countDrafts(page);
		expect(Object.keys(after).sort()).toEqual(Object.keys(before).sort());
		for (const [store, count] of Object.entries(after)) expect(count, store).toBe(0);
		await context.close();
	});
});
