/**
 * Sign in with Microsoft 365 (SPEC §12) in Chromium: the real Worker under wrangler dev signs in
 * with the loopback OAuth provider stand-in (scripts/local-oauth.mjs, started by the global
 * setup), the browser follows its authorize redirect back to /oauth/callback, and the SMTP test
 * logs in to the peer (smtp-peer.ts) with AUTH XOAUTH2. After the access is revoked at the
 * provider, the mailbox says Reconnect.
 */
import { describe, expect, inject, it } from 'vitest';
import { field, getMailbox, newPage, seedIntegration, signIn, uniqueAddress, useBrowser } from './helpers';

const browser = useBrowser();
const smtpPort = inject('e2eSmtpPort');
const control = inject('e2eOAuthControl');

async function standIn(change: Record<string, unknown>): Promise<void> {
	const response = await fetch(control, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(change) });
	expect(response.ok).toBe(true);
}

describe('Sign in with Microsoft 365', () => {
	it('chooses Microsoft 365, signs in, comes back connected, sends the SMTP test, and says Reconnect after a revoke', async () => {
		const integration = await seedIntegration();
		const address = uniqueAddress('oauth');
		const account = uniqueAddress('desk');
		const { context, page } = await newPage(browser.current);
		await signIn(page);
		await page.goto('/mailboxes/new');
		await field(page, 'Associated channel integration').selectOption({ label: integration.name });
		await field(page, 'Mailbox name').fill('Acme Support');
		await field(page, 'Service email address').fill(address);

		// Choosing the provider fills in its server (still editable) and hides the password.
		await field(page, 'Sign-in method').selectOption({ label: 'Microsoft 365' });
		expect(await field(page, 'Server address').inputValue()).toBe('smtp.office365.com');
		expect(await field(page, 'Port').inputValue()).toBe('587');
		expect(await field(page, 'Encryption').inputValue()).toBe('starttls');
		expect(await field(page, 'Password').count()).toBe(0);
		// This machine's SMTP server stands in for Microsoft's.
		await field(page, 'Server address').fill('127.0.0.1');
		await field(page, 'Port').fill(String(smtpPort));
		await field(page, 'Encryption').selectOption({ label: 'None' });
		await field(page, 'Account').fill(account);

		// Offline, the button says it needs the network; the form itself still works.
		await context.setOffline(true);
		await page.getByRole('button', { name: 'Sign-in needs the network' }).waitFor();
		expect(await page.getByRole('button', { name: 'Sign-in needs the network' }).isDisabled()).toBe(true);
		await context.setOffline(false);

		// Sign in: the mailbox is saved, the browser goes to the provider and comes back connected.
		await page.getByRole('button', { name: 'Sign in with Microsoft' }).click();
		await page.waitForURL((url) => /^\/mailboxes\/[0-9a-f-]{36}$/.test(url.pathname), { timeout: 20_000 });
		const id = new URL(page.url()).pathname.split('/').pop()!;
		await page.getByRole('status').filter({ hasText: `Signed in with Microsoft 365 as ${account}` }).waitFor();
		await page.getByText(/Signed in as/).filter({ hasText: account }).waitFor();
		// "Signed in as ACCOUNT on DATE", with the space (it once read "…exampleon Dec 7").
		expect(await page.getByText(/Signed in as/).filter({ hasText: account }).innerText()).toContain(`${account} on `);
		expect((await getMailbox(id)).smtp.oauth).toMatchObject({ provider: 'microsoft', account, status: 'connected' });

		// The SMTP test logs in with XOAUTH2.
		await page.getByRole('button', { name: 'Send test' }).click();
		const result = page.getByRole('region', { name: 'SMTP test result' });
		await result.getByText('Test passed').waitFor({ timeout: 20_000 });
		await result.getByText(/Show the SMTP transcript/).click();
		expect(await result.locator('pre.transcript').innerText()).toContain('AUTH XOAUTH2 [redacted]');

		// The provider withdraws the access: the next test says to reconnect, and so does the button.
		await standIn({ revoke: account });
		await page.getByRole('button', { name: 'Send test' }).click();
		await result.getByText('Test failed').waitFor({ timeout: 20_000 });
		await expect.poll(() => result.innerText()).toContain('Reconnect');
		await page.getByRole('button', { name: 'Reconnect' }).waitFor();
		expect((await getMailbox(id)).smtp.oauth?.status).toBe('reconnect');
		await context.close();
	});
});
