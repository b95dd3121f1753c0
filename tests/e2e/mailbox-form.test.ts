import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import {
	callApi,
	describedBy,
	field,
	fillMailboxForm,
	maybeScreenshot,
	getMailbox,
	newPage,
	recordApiCalls,
	seedIntegration,
	seedMailbox,
	signIn,
	tabTo,
	unique,
	uniqueAddress,
	useBrowser
} from './helpers';

/** SPEC §3, verbatim. */
const PORT_25_MESSAGE = 'port 25 is blocked for security reasons; use 587 with STARTTLS or 465 with SSL/TLS';

const browser = useBrowser();

async function openNewForm(page: Page) {
	await signIn(page);
	await page.getByRole('link', { name: 'Add', exact: true }).click();
	await page.waitForURL((url) => url.pathname === '/mailboxes/new');
	await page.getByRole('group', { name: 'Basic settings' }).waitFor();
}

async function mailboxByAddress(address: string) {
	const { body } = await callApi('GET', '/api/mailboxes');
	return (body.items as { address: string; id: string }[]).find((item) => item.address === address);
}

describe('mailbox form', () => {
	it('creates a mailbox through the form and shows it in the list', async () => {
		const integration = await seedIntegration();
		const address = uniqueAddress();
		const { context, page } = await newPage(browser.current);
		await openNewForm(page);

		for (const legend of ['Basic settings', 'Receiving settings', 'SMTP sending settings']) {
			expect(await page.getByRole('group', { name: legend }).count()).toBe(1);
		}
		expect(await field(page, 'Port').inputValue()).toBe('587');
		expect(await field(page, 'Port').getAttribute('inputmode')).toBe('numeric');
		expect(await describedBy(field(page, 'Port'))).toContain('Usually 587 (STARTTLS) or 465 (SSL/TLS)');
		const encryption = field(page, 'Encryption');
		expect(await encryption.evaluate((select: HTMLSelectElement) => select.selectedOptions[0]?.textContent)).toBe('STARTTLS');
		expect(await encryption.locator('option').allTextContents()).toEqual(['SSL/TLS', 'STARTTLS', 'None']);
		expect(await field(page, 'Manually forwarded mail').locator('option').allTextContents()).toEqual([
			'Reject (recommended)',
			'Accept and flag'
		]);
		expect(await field(page, 'Password').getAttribute('type')).toBe('password');
		expect(await field(page, 'Password').getAttribute('autocomplete')).toBe('new-password');

		await fillMailboxForm(page, {
			integration: integration.name,
			name: 'Acme Support EU',
			description: 'European customers',
			address,
			host: 'smtp.acme.example',
			account: address,
			password: 's3cret-app-password'
		});
		await page.getByRole('button', { name: 'Save', exact: true }).click();
		// Issue 19: a new mailbox opens on its own page, saying it was saved.
		await page.waitForURL((url) => /^\/mailboxes\/[0-9a-f-]{36}$/.test(url.pathname));
		await page.getByRole('status').filter({ hasText: `Mailbox ${address} saved.` }).waitFor();
		await page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link', { name: 'Mailboxes' }).click();

		const row = page.getByRole('row').filter({ hasText: address });
		await row.filter({ hasText: 'Synced' }).waitFor();
		const text = await row.textContent();
		expect(text).toContain(integration.name);
		expect(text).toContain('Acme Support EU');
		expect(text).toContain('Not tested yet');
		expect(await row.getByRole('link', { name: `Edit ${address}` }).getAttribute('href')).toMatch(/^\/mailboxes\/.+/);

		const saved = await getMailbox((await mailboxByAddress(address))!.id);
		expect(saved).toMatchObject({
			integrationId: integration.id,
			name: 'Acme Support EU',
			description: 'European customers',
			manualForward: 'reject',
			smtp: { host: 'smtp.acme.example', port: 587, username: address, encryption: 'starttls', hasPassword: true }
		});
		await context.close();
	});

	it('keeps what is typed, on the Add form and on a mailbox, until it is saved or discarded (issue 19)', async () => {
		const integration = await seedIntegration();
		const mailbox = await seedMailbox(integration.id, { name: 'Saved name' });
		const address = uniqueAddress('kept');
		const password = `kept-${unique('pw')}`;
		const { context, page } = await newPage(browser.current);
		await openNewForm(page);
		const kept = page.getByTestId('unsaved-changes');
		expect(await kept.count()).toBe(0);
		await fillMailboxForm(page, { integration: integration.name, name: 'Typed, not saved', address, host: 'smtp.acme.example', password });
		await kept.waitFor();
		expect(await kept.innerText()).toContain('Unsaved changes kept on this device');

		// Away and back (no dialog on the way): the Add form comes back filled in, the password too.
		await page.getByRole('link', { name: 'Channel integrations' }).first().click();
		await page.getByRole('heading', { level: 1, name: 'Channel integrations' }).waitFor();
		// A name typed for a new integration is kept the same way.
		await page.getByLabel('Integration name', { exact: true }).fill('Typed integration, not added');
		await page.goBack();
		await expect.poll(() => field(page, 'Mailbox name').inputValue()).toBe('Typed, not saved');
		expect(await field(page, 'Service email address').inputValue()).toBe(address);
		expect(await field(page, 'Associated channel integration').inputValue()).toBe(integration.id);
		expect(await field(page, 'Password').inputValue()).toBe(password);
		await kept.waitFor();
		// The typed password is kept sealed, never in plain text.
		const keptOnDevice = () =>
			page.evaluate(async () => {
				const db = await new Promise<IDBDatabase>((resolve, reject) => {
					const request = indexedDB.open('mailgate');
					request.onsuccess = () => resolve(request.result);
					request.onerror = () => reject(request.error);
				});
				return new Promise<{ values: unknown; sealed: boolean } | null>((resolve) => {
					const request = db.transaction('meta').objectStore('meta').get('working:mailbox:new');
					request.onsuccess = () => resolve(request.result ? { values: request.result.values, sealed: request.result.sealedPassword?.data instanceof ArrayBuffer } : null);
				});
			});
		const stored = await keptOnDevice();
		expect(stored?.sealed).toBe(true);
		expect(JSON.stringify(stored?.values)).toContain('Typed, not saved');
		expect(JSON.stringify(stored?.values)).not.toContain(password);

		// Discard empties the form, for good: the copy on this device goes (a copy left there, or
		// written again after the Discard, would fill the form in after a reload).
		await kept.getByRole('button', { name: 'Discard' }).click();
		await expect.poll(() => field(page, 'Mailbox name').inputValue()).toBe('');
		expect(await field(page, 'Password').inputValue()).toBe('');
		await expect.poll(keptOnDevice).toBeNull();
		await page.reload();
		await field(page, 'Mailbox name').waitFor();
		expect(await field(page, 'Mailbox name').inputValue()).toBe('');
		expect(await kept.count()).toBe(0);
		expect(await keptOnDevice()).toBeNull();

		await page.goto('/integrations');
		await expect.poll(() => page.getByLabel('Integration name', { exact: true }).inputValue()).toBe('Typed integration, not added');

		// An existing mailbox keeps its own unsaved changes.
		await page.goto(`/mailboxes/${mailbox.id}`);
		await expect.poll(() => field(page, 'Mailbox name').inputValue()).toBe('Saved name');
		expect(await kept.count()).toBe(0);
		await field(page, 'Mailbox name').fill('Typed on the mailbox');
		await kept.waitFor();
		await page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link', { name: 'Mailboxes' }).click();
		await page.getByRole('link', { name: `Edit ${mailbox.address}` }).click();
		await expect.poll(() => field(page, 'Mailbox name').inputValue()).toBe('Typed on the mailbox');
		await kept.waitFor();
		expect((await getMailbox(mailbox.id)).name).toBe('Saved name');

		// Save stays on the page, says so, and the kept copy is done; "Synced" is no badge.
		await page.getByRole('button', { name: 'Save', exact: true }).click();
		await page.getByRole('status').filter({ hasText: `Mailbox ${mailbox.address} saved.` }).waitFor();
		expect(new URL(page.url()).pathname).toBe(`/mailboxes/${mailbox.id}`);
		expect(await kept.count()).toBe(0);
		expect((await getMailbox(mailbox.id)).name).toBe('Typed on the mailbox');
		await expect.poll(() => page.locator('.badge[data-sync-state]').count()).toBe(0);
		await maybeScreenshot(page, 'desktop-mailbox-saved');
		await page.reload();
		await expect.poll(() => field(page, 'Mailbox name').inputValue()).toBe('Typed on the mailbox');
		expect(await kept.count()).toBe(0);
		await context.close();
	});

	it('edits a mailbox, keeping the stored password when Password is left empty', async () => {
		const integration = await seedIntegration();
		const mailbox = await seedMailbox(integration.id, { name: 'Before' });
		const { context, page } = await newPage(browser.current);
		await signIn(page);
		const patches: unknown[] = [];
		page.on('request', (request) => {
			if (request.method() === 'PATCH') patches.push(request.postDataJSON());
		});

		await page.getByRole('link', { name: `Edit ${mailbox.address}` }).click();
		await page.waitForURL((url) => url.pathname === `/mailboxes/${mailbox.id}`);
		// The health line's badge (the history below says it too, once it has loaded).
		await page.getByText('No SMTP test has run yet', { exact: true }).waitFor();
		expect(await field(page, 'Mailbox name').inputValue()).toBe('Before');
		expect(await field(page, 'Password').inputValue()).toBe('');
		expect(await describedBy(field(page, 'Password'))).toContain('A password is stored. Leave empty to keep it.');

		await fillMailboxForm(page, { name: 'After', description: 'Kept with the same server' });
		await page.getByRole('button', { name: 'Save', exact: true }).click();
		// Issue 19: Save stays on the mailbox's page.
		await page.getByRole('status').filter({ hasText: `Mailbox ${mailbox.address} saved.` }).waitFor();
		expect(new URL(page.url()).pathname).toBe(`/mailboxes/${mailbox.id}`);
		await page.goto('/');
		const row = page.getByRole('row').filter({ hasText: mailbox.address });
		await row.filter({ hasText: 'After' }).waitFor();

		const saved = await getMailbox(mailbox.id);
		expect(saved.name).toBe('After');
		expect(saved.smtp.port).toBe(mailbox.smtp.port);
		expect(saved.smtp.hasPassword).toBe(true);
		expect(saved.version).toBe(mailbox.version + 1);
		expect(patches).toHaveLength(1);
		expect(patches[0]).toMatchObject({ version: mailbox.version, name: 'After' });
		expect((patches[0] as { smtp?: object }).smtp ?? {}).not.toHaveProperty('password');
		await context.close();
	});

	it('sets the sending limits (SPEC §15) with the provider’s defaults as placeholders, and refuses one out of range on its field', async () => {
		const integration = await seedIntegration();
		const mailbox = await seedMailbox(integration.id);
		const { context, page } = await newPage(browser.current);
		await signIn(page);
		await page.goto(`/mailboxes/${mailbox.id}`);
		const limits = page.getByTestId('sending-limits');
		await limits.waitFor();
		const placeholders = async () => [
			await field(page, 'Concurrent sessions (optional)').getAttribute('placeholder'),
			await field(page, 'Messages a minute (optional)').getAttribute('placeholder')
		];
		// Another server: 2 sessions, no rate; Microsoft 365's SMTP: 3 sessions, 30 messages a minute.
		expect(await placeholders()).toEqual(['2', 'No limit']);
		await field(page, 'Server address').fill('smtp.office365.com');
		expect(await placeholders()).toEqual(['3', '30']);
		await field(page, 'Server address').fill(mailbox.smtp.host);

		const perMinute = field(page, 'Messages a minute (optional)');
		await perMinute.fill('0');
		await page.getByRole('button', { name: 'Save', exact: true }).click();
		await expect.poll(() => perMinute.getAttribute('aria-invalid')).toBe('true');
		expect(await describedBy(perMinute)).toContain('Messages a minute is a whole number from 1 to 600');
		expect((await getMailbox(mailbox.id)).smtp.limits ?? null).toBeNull();

		await field(page, 'Messages a minute (optional)').fill('20');
		await field(page, 'Concurrent sessions (optional)').fill('2');
		await page.getByRole('button', { name: 'Save', exact: true }).click();
		await page.getByRole('status').filter({ hasText: `Mailbox ${mailbox.address} saved.` }).waitFor();
		expect((await getMailbox(mailbox.id)).smtp.limits).toEqual({ concurrent: 2, perMinute: 20 });
		await context.close();
	});

	it('asks for the password again when the server, port, account or encryption change, and sends nothing until it is there', async () => {
		const integration = await seedIntegration();
		const mailbox = await seedMailbox(integration.id, { name: 'Moving server' });
		const { context, page } = await newPage(browser.current);
		await signIn(page);
		const calls = recordApiCalls(page);
		await page.goto(`/mailboxes/${mailbox.id}`);
		await expect.poll(() => field(page, 'Mailbox name').inputValue()).toBe('Moving server');
		const password = field(page, 'Password');
		expect(await describedBy(password)).toContain('A password is stored. Leave empty to keep it.');

		// Issue 18: a stored password is only sent to the server it was entered for.
		await fillMailboxForm(page, { port: '2525' });
		await expect.poll(() => describedBy(password)).toContain(
			'The server settings changed: enter the password again. A stored password is only sent to the server it was entered for.'
		);
		expect(await password.getAttribute('aria-required')).toBe('true');
		await page.getByRole('button', { name: 'Save', exact: true }).click();
		await expect.poll(() => password.getAttribute('aria-invalid')).toBe('true');
		expect(await describedBy(password)).toContain('Enter the password again: a stored password is only sent to the server it was entered for');
		expect(await password.evaluate((element) => element === document.activeElement)).toBe(true);
		expect(calls.filter((call) => !call.startsWith('GET '))).toEqual([]);

		// Back to the saved port: the stored password goes with it again, no error.
		await fillMailboxForm(page, { port: String(mailbox.smtp.port) });
		await expect.poll(() => password.getAttribute('aria-invalid')).toBeNull();
		expect(await describedBy(password)).toContain('A password is stored. Leave empty to keep it.');

		await fillMailboxForm(page, { port: '2525', password: 'the new server password' });
		await page.getByRole('button', { name: 'Save', exact: true }).click();
		await page.getByRole('status').filter({ hasText: `Mailbox ${mailbox.address} saved.` }).waitFor();
		const saved = await getMailbox(mailbox.id);
		expect(saved.smtp).toMatchObject({ port: 2525, hasPassword: true });
		await context.close();
	});

	it('shows field errors as you type, on every field on Save, and does not send', async () => {
		const integration = await seedIntegration();
		const { context, page } = await newPage(browser.current);
		await openNewForm(page);
		const calls = recordApiCalls(page);

		const port = field(page, 'Port');
		await port.fill('25');
		await port.press('Tab');
		await expect.poll(() => port.getAttribute('aria-invalid')).toBe('true');
		expect(await describedBy(port)).toContain(PORT_25_MESSAGE);
		// Once left, the field is checked on every keystroke, while it still has focus.
		await port.fill('2525');
		await expect.poll(() => port.getAttribute('aria-invalid')).toBeNull();
		expect(await describedBy(port)).not.toContain(PORT_25_MESSAGE);
		await port.fill('25');
		await expect.poll(() => port.getAttribute('aria-invalid')).toBe('true');
		expect(await describedBy(port)).toContain(PORT_25_MESSAGE);

		const address = field(page, 'Service email address');
		await address.fill('support+eu@acme.com');
		await address.press('Tab');
		await expect.poll(() => address.getAttribute('aria-invalid')).toBe('true');
		expect((await describedBy(address)).some((text) => text.includes('Aliases are not supported'))).toBe(true);

		const host = field(page, 'Server address');
		await host.fill('smtp://mail.acme.com');
		await host.press('Tab');
		await expect.poll(() => host.getAttribute('aria-invalid')).toBe('true');
		expect((await describedBy(host)).some((text) => text.includes('smtp://'))).toBe(true);

		// Mailbox name stays untouched: no error until Save, then it has one too.
		const name = field(page, 'Mailbox name');
		expect(await name.getAttribute('aria-invalid')).toBeNull();
		await fillMailboxForm(page, { integration: integration.name, account: 'support@acme.com', password: 'pw' });
		await page.getByRole('button', { name: 'Save', exact: true }).click();
		await page.getByRole('alert').filter({ hasText: 'fields need attention' }).waitFor();
		expect(await name.getAttribute('aria-invalid')).toBe('true');
		expect(await describedBy(name)).toContain('Enter the mailbox name');
		await maybeScreenshot(page, 'desktop-form-errors');
		// Focus goes to the first field that needs attention.
		expect(await name.evaluate((element) => element === document.activeElement)).toBe(true);
		expect(calls.filter((call) => !call.startsWith('GET '))).toEqual([]);
		expect(new URL(page.url()).pathname).toBe('/mailboxes/new');
		await context.close();
	});

	it('warns about encryption choices without blocking them', async () => {
		const { context, page } = await newPage(browser.current);
		await openNewForm(page);
		const encryption = field(page, 'Encryption');
		expect((await describedBy(encryption)).join(' ')).not.toMatch(/usually/i);
		await encryption.selectOption({ label: 'SSL/TLS' });
		await expect.poll(async () => (await describedBy(encryption)).join(' ')).toMatch(/SSL\/TLS usually uses port 465/);
		await field(page, 'Port').fill('465');
		await expect.poll(async () => (await describedBy(encryption)).join(' ')).not.toMatch(/usually/);
		await encryption.selectOption({ label: 'None' });
		await expect.poll(async () => (await describedBy(encryption)).join(' ')).toMatch(/unencrypted/);
		expect(await encryption.getAttribute('aria-invalid')).toBeNull();
		await context.close();
	});

	it('warns when an OAuth sign-in would go to a server that is not the provider’s (the Worker refuses it)', async () => {
		const { context, page } = await newPage(browser.current);
		await openNewForm(page);
		await field(page, 'Sign-in method').selectOption({ label: 'Microsoft 365' });
		const host = field(page, 'Server address');
		expect(await host.inputValue()).toBe('smtp.office365.com');
		expect((await describedBy(host)).join(' ')).not.toMatch(/only sent to/);
		await host.fill('smtp.evil.example');
		await expect.poll(async () => (await describedBy(host)).join(' ')).toMatch(
			/Microsoft 365's sign-in is only sent to smtp\.office365\.com, .* with STARTTLS or SSL\/TLS: set Server address to smtp\.office365\.com/
		);
		await host.fill('smtp-mail.outlook.com');
		await expect.poll(async () => (await describedBy(host)).join(' ')).not.toMatch(/only sent to/);
		await field(page, 'Encryption').selectOption({ label: 'None' });
		await expect.poll(async () => (await describedBy(host)).join(' ')).toMatch(/set Encryption to STARTTLS/);
		await context.close();
	});

	it('shows the server’s address_taken error on Service email address (addresses are unique regardless of case)', async () => {
		const integration = await seedIntegration();
		const local = unique('desk');
		await seedMailbox(integration.id, { address: `${local.toUpperCase()}@Acme.example` });
		const { context, page } = await newPage(browser.current);
		await openNewForm(page);
		await fillMailboxForm(page, {
			integration: integration.name,
			name: 'Second desk',
			address: `${local}@acme.example`,
			host: 'smtp.acme.example',
			account: 'desk@acme.example',
			password: 'pw'
		});
		await page.getByRole('button', { name: 'Save', exact: true }).click();
		// Saved on this device first, then refused by the server: the draft opens with the verdict.
		await page.waitForURL((url) => /^\/mailboxes\/[0-9a-f-]{36}$/.test(url.pathname));
		const address = field(page, 'Service email address');
		await expect.poll(() => address.getAttribute('aria-invalid')).toBe('true');
		expect(await describedBy(address)).toContain('Another mailbox already uses this service email address');
		expect(await field(page, 'Mailbox name').getAttribute('aria-invalid')).toBeNull();
		expect(await field(page, 'Mailbox name').inputValue()).toBe('Second desk');
		expect(await page.locator('[data-sync-state]').first().textContent()).toBe('Needs attention');
		// The server's verdict goes away once the admin changes the address.
		await address.fill(uniqueAddress('desk'));
		await expect.poll(() => address.getAttribute('aria-invalid')).toBeNull();
		await context.close();
	});

	it('is usable with the keyboard alone', async () => {
		const integration = await seedIntegration(unique('Keyboard desk'));
		const address = uniqueAddress('keyboard');
		const { context, page } = await newPage(browser.current);
		await signIn(page);
		await page.getByRole('heading', { level: 1, name: 'Mailboxes' }).waitFor();

		await tabTo(page, page.getByRole('link', { name: 'Add', exact: true }));
		await page.keyboard.press('Enter');
		await page.waitForURL((url) => url.pathname === '/mailboxes/new');

		const select = field(page, 'Associated channel integration');
		await tabTo(page, select);
		for (let i = 0; i < 200 && (await select.inputValue()) !== integration.id; i++) {
			await page.keyboard.press('ArrowDown');
		}
		expect(await select.inputValue()).toBe(integration.id);
		const typing: [string, string][] = [
			['Mailbox name', 'Keyboard Support'],
			['Service email address', address],
			['Server address', 'smtp.acme.example'],
			['Account', address],
			['Password', 'typed-by-keyboard']
		];
		for (const [label, text] of typing) {
			await tabTo(page, field(page, label));
			await page.keyboard.type(text);
		}
		await tabTo(page, page.getByRole('button', { name: 'Save', exact: true }));
		await page.keyboard.press('Enter');
		await page.waitForURL((url) => /^\/mailboxes\/[0-9a-f-]{36}$/.test(url.pathname));
		await page.goto('/');
		await page.getByRole('row').filter({ hasText: address }).filter({ hasText: 'Keyboard Support' }).waitFor();
		await context.close();
	});

	it('on a version conflict, shows both copies, and saving again after taking theirs works', async () => {
		const integration = await seedIntegration();
		const mailbox = await seedMailbox(integration.id, { name: 'Original' });
		const { context, page } = await newPage(browser.current);
		await signIn(page);
		await page.goto(`/mailboxes/${mailbox.id}`);
		await field(page, 'Mailbox name').fill('Mine');

		const theirs = await callApi('PATCH', `/api/mailboxes/${mailbox.id}`, { version: mailbox.version, name: 'Theirs' });
		expect(theirs.status).toBe(200);

		await page.getByRole('button', { name: 'Save', exact: true }).click();
		const choice = page.getByRole('region', { name: 'This mailbox was changed on the server' });
		await choice.waitFor();
		expect(new URL(page.url()).pathname).toBe(`/mailboxes/${mailbox.id}`);
		expect((await getMailbox(mailbox.id)).name).toBe('Theirs');
		const nameRow = choice.getByRole('row').filter({ hasText: 'Mailbox name' });
		expect(await nameRow.getByRole('cell').allTextContents()).toEqual(['Mine', 'Theirs']);

		await choice.getByRole('button', { name: 'Use the server’s version' }).click();
		await expect.poll(() => field(page, 'Mailbox name').inputValue()).toBe('Theirs');
		await field(page, 'Mailbox name').fill('Mine after all');
		await page.getByRole('button', { name: 'Save', exact: true }).click();
		await page.getByRole('status').filter({ hasText: `Mailbox ${mailbox.address} saved.` }).waitFor();
		expect((await getMailbox(mailbox.id)).name).toBe('Mine after all');
		await context.close();
	});

	it('deletes a mailbox after confirming in a dialog', async () => {
		const integration = await seedIntegration();
		const mailbox = await seedMailbox(integration.id);
		const { context, page } = await newPage(browser.current);
		await signIn(page);
		await page.goto(`/mailboxes/${mailbox.id}`);
		await page.getByRole('button', { name: 'Delete mailbox' }).click();
		const dialog = page.getByRole('dialog', { name: 'Delete this mailbox?' });
		await dialog.waitFor();
		await maybeScreenshot(page, 'desktop-delete-dialog', { viewportOnly: true });
		await dialog.getByRole('button', { name: 'Delete mailbox' }).click();
		await page.waitForURL((url) => url.pathname === '/');
		await page.getByRole('heading', { level: 1, name: 'Mailboxes' }).waitFor();
		expect(await page.getByRole('row').filter({ hasText: mailbox.address }).count()).toBe(0);
		await expect.poll(async () => (await callApi('GET', `/api/mailboxes/${mailbox.id}`)).status).toBe(404);
		await context.close();
	});
});
