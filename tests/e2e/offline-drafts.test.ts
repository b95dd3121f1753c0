/**
 * Every edit is a draft on this device first (SPEC §6): mailboxes created and edited with no
 * network are kept in IndexedDB across reloads and browser restarts, their passwords sealed,
 * and reach the Worker by themselves once the network is back.
 */
import { randomBytes } from 'node:crypto';
import type { BrowserContext, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import type { Integration } from '../../src/lib/schema/integration';
import {
	addMailboxThroughForm,
	callApi,
	field,
	getMailbox,
	installedPage,
	mailboxRow,
	seedIntegration,
	seedMailbox,
	serverMailboxesAt,
	signIn,
	syncBadge,
	temporaryProfile,
	unique,
	uniqueAddress,
	waitForServiceWorker,
	useBrowser
} from './helpers';

const browser = useBrowser();

const pendingChanges = (page: Page) => page.getByRole('status').filter({ hasText: /changes? waiting to sync/ });

async function firstPage(context: BrowserContext): Promise<Page> {
	return context.pages()[0] ?? (await context.newPage());
}

/** Everything the app keeps in IndexedDB, and where `secret` appears in it (text or bytes). */
async function searchIndexedDb(page: Page, secret: string) {
	return page.evaluate(async (secret) => {
		const db = await new Promise<IDBDatabase>((resolve, reject) => {
			const request = indexedDB.open('mailgate');
			request.onsuccess = () => resolve(request.result);
			request.onerror = () => reject(request.error);
		});
		const dump: Record<string, unknown[]> = {};
		for (const name of Array.from(db.objectStoreNames)) {
			dump[name] = await new Promise<unknown[]>((resolve) => {
				const request = db.transaction(name).objectStore(name).getAll();
				request.onsuccess = () => resolve(request.result);
			});
		}
		db.close();
		const needles = [new TextEncoder().encode(secret), new Uint8Array([...secret].flatMap((c) => [c.charCodeAt(0), 0]))];
		const contains = (bytes: Uint8Array) =>
			needles.some((needle) => bytes.some((_, start) => needle.every((byte, i) => bytes[start + i] === byte)));
		const found: string[] = [];
		const walk = (value: unknown, where: string) => {
			if (typeof value === 'string') {
				if (value.includes(secret)) found.push(where);
			} else if (value instanceof ArrayBuffer) {
				if (contains(new Uint8Array(value))) found.push(where);
			} else if (ArrayBuffer.isView(value)) {
				if (contains(new Uint8Array(value.buffer, value.byteOffset, value.byteLength))) found.push(where);
			} else if (value && typeof value === 'object' && !(value instanceof CryptoKey)) {
				for (const [key, inner] of Object.entries(value)) walk(inner, `${where}.${key}`);
			}
		}
		walk(dump, 'db');
		const keys = dump.keys as CryptoKey[];
		const exportable = await Promise.all(
			keys.map((key) => crypto.subtle.exportKey('raw', key).then(() => true, () => false))
		);
		const mailboxes = dump.mailboxes as { draft: { address: string }; sealedPassword: { iv: Uint8Array; data: ArrayBuffer } | null }[];
		return {
			found,
			keys: keys.map((key, i) => ({ type: key.constructor.name, extractable: key.extractable, algorithm: key.algorithm.name, exportable: exportable[i] })),
			sealed: mailboxes.map((m) => ({ address: m.draft.address, sealedBytes: m.sealedPassword ? m.sealedPassword.data.byteLength : 0 }))
		};
	}, secret);
}

describe('drafts on this device', () => {
	it('creates and edits mailboxes offline, keeps them across a reload and a browser restart, then syncs them without a click', async () => {
		const integration = await seedIntegration();
		const existing = await seedMailbox(integration.id, { name: 'Before the train' });
		const address = uniqueAddress('train');
		const newIntegration = unique('Night train support');
		const profile = temporaryProfile();
		// Online once: sign in, the app installs its shell and pulls the mailboxes.
		let context = await profile.launch();
		let page = await firstPage(context);
		await signIn(page);
		await waitForServiceWorker(page);
		await mailboxRow(page, existing.address).waitFor();

		await context.setOffline(true);
		await page.getByRole('status').filter({ hasText: 'You are offline' }).waitFor();
		// A new integration and a mailbox in it, both drafted offline: replayed in order later.
		await page.getByRole('link', { name: 'Channel integrations' }).click();
		await page.getByLabel('Integration name', { exact: true }).fill(newIntegration);
		await page.getByRole('button', { name: 'Add integration' }).click();
		const integrationItem = page.getByRole('listitem').filter({ hasText: newIntegration });
		expect(await syncBadge(integrationItem).textContent()).toBe('Saved on this device');
		await page.getByRole('link', { name: 'Mailboxes', exact: true }).first().click();
		await addMailboxThroughForm(page, { integration: newIntegration, address, name: 'Drafted in a tunnel' });
		expect(await syncBadge(mailboxRow(page, address)).textContent()).toBe('Saved on this device');

		await page.getByRole('link', { name: `Edit ${existing.address}` }).click();
		await field(page, 'Mailbox name').fill('Edited offline');
		await field(page, 'Port').fill('2525');
		// Another port needs the password again (issue 18); it waits on the device, sealed, with the draft.
		await field(page, 'Password').fill('offline-new-password');
		await page.getByRole('button', { name: 'Save', exact: true }).click();
		await page.getByRole('status').filter({ hasText: `Mailbox ${existing.address} saved on this device` }).waitFor();
		await page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link', { name: 'Mailboxes' }).click();
		await mailboxRow(page, existing.address).filter({ hasText: 'Edited offline' }).waitFor();
		expect(await syncBadge(mailboxRow(page, existing.address)).textContent()).toBe('Saved on this device');
		expect(await pendingChanges(page).textContent()).toContain('3 changes waiting to sync');
		expect(await page.getByRole('button', { name: 'Sync now' }).isDisabled()).toBe(true);

		// Nothing reached the server.
		expect(await serverMailboxesAt(address)).toEqual([]);
		expect((await getMailbox(existing.id)).name).toBe('Before the train');

		// A reload with no network finds both drafts, the form too.
		await page.reload();
		await mailboxRow(page, address).filter({ hasText: 'Drafted in a tunnel' }).waitFor();
		await mailboxRow(page, existing.address).filter({ hasText: 'Edited offline' }).waitFor();
		await page.getByRole('link', { name: `Edit ${existing.address}` }).click();
		await expect.poll(() => field(page, 'Port').inputValue()).toBe('2525');
		await page.getByRole('link', { name: 'Mailboxes', exact: true }).first().click();
		const clientId = await mailboxRow(page, address).getAttribute('data-mailbox-id');

		// The browser closes (as when the phone reboots) and opens again, still offline.
		await context.close();
		context = await profile.launch({ offline: true });
		page = await firstPage(context);
		await page.goto('/');
		await mailboxRow(page, address).filter({ hasText: 'Drafted in a tunnel' }).waitFor();
		await mailboxRow(page, existing.address).filter({ hasText: 'Edited offline' }).waitFor();
		expect(await syncBadge(mailboxRow(page, address)).textContent()).toBe('Saved on this device');
		expect(await pendingChanges(page).textContent()).toContain('3 changes waiting to sync');

		// Back online: the drafts go to the Worker by themselves.
		await context.setOffline(false);
		await expect.poll(async () => (await serverMailboxesAt(address)).length, { timeout: 15_000 }).toBe(1);
		const [created] = await serverMailboxesAt(address);
		expect(created).toMatchObject({ id: clientId, name: 'Drafted in a tunnel', smtp: { hasPassword: true } });
		const { body: integrations } = await callApi('GET', '/api/integrations');
		const madeOffline = (integrations.items as Integration[]).find((item) => item.name === newIntegration);
		expect(created!.integrationId).toBe(madeOffline?.id);
		await expect.poll(async () => (await getMailbox(existing.id)).name).toBe('Edited offline');
		expect((await getMailbox(existing.id)).smtp.port).toBe(2525);
		await expect.poll(() => syncBadge(mailboxRow(page, address)).textContent()).toBe('Synced');
		await expect.poll(() => syncBadge(mailboxRow(page, existing.address)).textContent()).toBe('Synced');
		await pendingChanges(page).waitFor({ state: 'detached' });
		await context.close();
	});

	it('seals a drafted password in IndexedDB with a key script cannot read, and still sends it', async () => {
		const integration = await seedIntegration();
		const address = uniqueAddress('sealed');
		const password = `pw-${randomBytes(6).toString('hex')}`;
		const { context, page } = await installedPage(browser.current, { integration: integration.name });
		await context.setOffline(true);
		await addMailboxThroughForm(page, { integration: integration.name, address, password });
		await mailboxRow(page, address).waitFor();

		const stored = await searchIndexedDb(page, password);
		expect(stored.found).toEqual([]);
		expect(stored.sealed).toContainEqual({ address, sealedBytes: expect.any(Number) });
		expect(stored.sealed.find((item) => item.address === address)!.sealedBytes).toBeGreaterThan(password.length);
		expect(stored.keys).toEqual([{ type: 'CryptoKey', extractable: false, algorithm: 'AES-GCM', exportable: false }]);

		await context.setOffline(false);
		await expect.poll(() => syncBadge(mailboxRow(page, address)).textContent(), { timeout: 15_000 }).toBe('Synced');
		expect((await serverMailboxesAt(address))[0]?.smtp.hasPassword).toBe(true);
		// Once on the server, the sealed copy is dropped from the device.
		expect((await searchIndexedDb(page, password)).sealed).toContainEqual({ address, sealedBytes: 0 });
		await context.close();
	});
});
