#!/usr/bin/env node
// Time-to-usable offline: from navigation start to the mailbox list rendered from IndexedDB, with
// no network at all (the app shell from the service worker's cache). Starts the same throwaway
// `wrangler dev` as the browser tests, seeds mailboxes, visits once online, then opens the app
// offline RUNS times in fresh tabs and prints the median and p95. Run after `npm run build`.
//
//   node bench/offline-start.mjs                    # 20 runs, 25 mailboxes
//   RUNS=50 MAILBOXES=100 CPU_SLOWDOWN=4 node bench/offline-start.mjs   # a slower phone
//   BENCH_SMOKE=1 node bench/offline-start.mjs      # 2 runs, 3 mailboxes (npm run test:bench)
import { chromium } from 'playwright-core';
import { chromiumOptions, startLocalServer } from '../scripts/local-harness.mjs';

const SMOKE = process.env.BENCH_SMOKE === '1';
const RUNS = Number(process.env.RUNS ?? (SMOKE ? 2 : 20));
const MAILBOXES = Number(process.env.MAILBOXES ?? (SMOKE ? 3 : 25));
/** Chrome DevTools CPU throttling: 4 is roughly a mid-range phone against this machine. */
const CPU_SLOWDOWN = Number(process.env.CPU_SLOWDOWN ?? 1);
/** What the pages reported going wrong (uncaught errors, console errors, failed API requests). */
const pageErrors = /** @type {string[]} */ ([]);

const server = await startLocalServer();
const browser = await chromium.launch(chromiumOptions);
try {
	await seed(server);
	const context = await browser.newContext({ baseURL: server.baseUrl });
	// Marks the moment the list shows every seeded mailbox, relative to navigation start.
	await context.addInitScript((count) => {
		const observer = new MutationObserver(() => {
			if (document.querySelectorAll('tr[data-mailbox-id]').length >= count) {
				observer.disconnect();
				Reflect.set(window, '__mailgateUsableAt', performance.now());
			}
		});
		observer.observe(document, { childList: true, subtree: true });
	}, MAILBOXES);

	// One online visit: sign in, the service worker precaches the shell, the lists reach IndexedDB.
	const first = watched(await context.newPage());
	await first.goto(`/login#token=${encodeURIComponent(server.adminToken)}`);
	await usable(first, 'the online visit');
	await first.evaluate(async () => {
		await navigator.serviceWorker.ready;
		if (!navigator.serviceWorker.controller) {
			await new Promise((resolve) => navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true }));
		}
	});
	await first.close();

	await context.setOffline(true);
	const times = [];
	for (let run = 0; run < RUNS; run++) {
		const page = watched(await context.newPage());
		if (CPU_SLOWDOWN > 1) {
			const cdp = await context.newCDPSession(page);
			await cdp.send('Emulation.setCPUThrottlingRate', { rate: CPU_SLOWDOWN });
		}
		await page.goto('/');
		await usable(page, `offline run ${run + 1}`);
		times.push(await page.evaluate(() => /** @type {number} */ (Reflect.get(window, '__mailgateUsableAt'))));
		await page.close();
	}
	await context.close();

	times.sort((a, b) => a - b);
	const at = (/** @type {number} */ q) => times[Math.min(times.length - 1, Math.ceil(q * times.length) - 1)] ?? NaN;
	const ms = (/** @type {number} */ n) => `${n.toFixed(0)} ms`;
	console.log(
		`offline time-to-usable (navigation start → ${MAILBOXES} mailboxes listed from IndexedDB, no network, ` +
			`CPU ×${CPU_SLOWDOWN}, ${RUNS} runs): median ${ms(at(0.5))}, p95 ${ms(at(0.95))} ` +
			`(min ${ms(times[0] ?? NaN)}, max ${ms(times.at(-1) ?? NaN)})`
	);
} finally {
	await browser.close();
	await server.stop();
}

/** @param {import('playwright-core').Page} page */
function watched(page) {
	page.on('pageerror', (error) => pageErrors.push(`page error: ${error.stack ?? error.message}`));
	page.on('console', (message) => {
		if (message.type() === 'error') pageErrors.push(`console: ${message.text()}`);
	});
	page.on('response', (response) => {
		if (response.status() >= 500) pageErrors.push(`HTTP ${response.status()} ${response.request().method()} ${response.url()}`);
	});
	return page;
}

/**
 * Waits for the list to show every seeded mailbox; when it does not, fails with what the page and
 * the Worker reported instead of a bare timeout.
 * @param {import('playwright-core').Page} page
 * @param {string} what
 */
async function usable(page, what) {
	try {
		await page.waitForFunction(() => Reflect.get(window, '__mailgateUsableAt') !== undefined, null, { timeout: 30_000 });
	} catch (error) {
		throw new Error(
			`${what}: the list never showed ${MAILBOXES} mailboxes (${/** @type {Error} */ (error).message.split('\n')[0]})\n` +
				`--- the page ---\n${pageErrors.join('\n') || '(no errors)'}\n--- wrangler dev output ---\n${server.output()}`
		);
	}
}

/** @param {import('../scripts/local-harness.mjs').LocalServer} target */
async function seed({ baseUrl, adminToken, check }) {
	const post = async (/** @type {string} */ path, /** @type {unknown} */ body) => {
		const response = await fetch(`${baseUrl}${path}`, {
			method: 'POST',
			headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
			body: JSON.stringify(body)
		});
		return (await check(response, `Seeding: POST ${path}`)).json();
	};
	const integration = await post('/api/integrations', { name: 'Bench support' });
	for (let i = 0; i < MAILBOXES; i++) {
		await post('/api/mailboxes', {
			integrationId: integration.id,
			name: `Desk ${i}`,
			description: 'Seeded by bench/offline-start.mjs',
			address: `desk-${i}@bench.example`,
			smtp: { host: 'smtp.bench.example', port: 587, username: `desk-${i}@bench.example`, password: 'bench', encryption: 'starttls' }
		});
	}
}
