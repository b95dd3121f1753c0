import { describe, expect, it } from 'vitest';
import { adminToken, baseUrl, newPage, signIn, useBrowser } from './helpers';

const browser = useBrowser();

describe('signing in', () => {
	it('signs in through /login#token=…, drops the token from the address bar and shows the list', async () => {
		const { context, page } = await newPage(browser.current);
		await signIn(page);
		expect(page.url()).not.toContain('token');
		expect(new URL(page.url()).hash).toBe('');
		await page.getByRole('heading', { level: 1, name: 'Mailboxes' }).waitFor();
		await page.getByRole('link', { name: 'Add', exact: true }).waitFor();
		expect(await page.evaluate(() => localStorage.getItem('mailgate.adminToken'))).toBe(adminToken);
		await context.close();
	});

	it('signs in when the link is pasted into a tab already on the sign-in page (only the fragment changes)', async () => {
		const { context, page } = await newPage(browser.current);
		await page.goto('/login');
		await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
		// Same path, new fragment: the browser does not reload, it fires hashchange.
		await page.goto(`/login#token=${encodeURIComponent(adminToken)}`);
		await page.waitForURL((url) => url.pathname === '/');
		await page.getByRole('heading', { level: 1, name: 'Mailboxes' }).waitFor();
		expect(page.url()).not.toContain('token');
		expect(await page.evaluate(() => localStorage.getItem('mailgate.adminToken'))).toBe(adminToken);
		await context.close();
	});

	it('without a token, explains how to sign in', async () => {
		const { context, page } = await newPage(browser.current);
		await page.goto('/integrations');
		await page.getByRole('heading', { name: 'You are not signed in' }).waitFor();
		const main = await page.getByRole('main').textContent();
		expect(main).toContain('npm start');
		// The link it describes is this server's, whatever port it runs on.
		expect(main).toContain(`${baseUrl}/login#token=`);
		await page.getByRole('link', { name: 'Go to the sign-in page' }).click();
		await page.waitForURL((url) => url.pathname === '/login');
		await context.close();
	});

	it('signs in with a token pasted on /login', async () => {
		const { context, page } = await newPage(browser.current);
		await page.goto('/login');
		await page.getByLabel('Admin token', { exact: true }).fill(adminToken);
		await page.getByRole('button', { name: 'Sign in' }).click();
		await page.waitForURL((url) => url.pathname === '/');
		await page.getByRole('heading', { level: 1, name: 'Mailboxes' }).waitFor();
		// Signed in for good: the token is kept for the next visit, and never shown in the address bar.
		expect(await page.evaluate(() => localStorage.getItem('mailgate.adminToken'))).toBe(adminToken);
		expect(page.url()).not.toContain(encodeURIComponent(adminToken));
		await context.close();
	});

	it('refuses a wrong pasted token on /login', async () => {
		const { context, page } = await newPage(browser.current);
		await page.goto('/login');
		const field = page.getByLabel('Admin token', { exact: true });
		await field.fill(`wrong-${adminToken}`);
		await page.getByRole('button', { name: 'Sign in' }).click();
		await page.getByText('The server refused this token').waitFor();
		expect(await field.getAttribute('aria-invalid')).toBe('true');
		expect(new URL(page.url()).pathname).toBe('/login');
		expect(await page.evaluate(() => localStorage.getItem('mailgate.adminToken'))).toBeNull();
		await context.close();
	});

	it('says the sign-in is not valid any more when the API answers 401', async () => {
		const { context, page } = await newPage(browser.current);
		await signIn(page, `stale-${adminToken}`);
		await page.getByRole('heading', { name: 'Your sign-in is not valid any more' }).waitFor();
		expect(await page.getByRole('link', { name: 'Sign in again' }).getAttribute('href')).toBe('/login');
		await context.close();
	});

	it('signs out', async () => {
		const { context, page } = await newPage(browser.current);
		await signIn(page);
		await page.getByRole('button', { name: 'Sign out' }).click();
		await page.waitForURL((url) => url.pathname === '/login');
		expect(await page.evaluate(() => localStorage.getItem('mailgate.adminToken'))).toBeNull();
		await page.goto('/');
		await page.getByRole('heading', { name: 'You are not signed in' }).waitFor();
		await context.close();
	});
});
