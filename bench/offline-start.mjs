#!/usr/bin/env node
// Time-to-usable offline: from navigation start to the mailbox list rendered from IndexedDB, with
// no network at all (the app shell from the service worker's cache). Starts the same throwaway
// `wrangler dev` as the browser tests, seeds mailboxes, visits once online, then opens the app
// offline RUNS times in fresh tabs and prints the median and p95. Run after `npm run build`.
//
//   node bench/offline-start.mjs                    # 20 runs, 25 mailboxes
//   RUNS=50 MAILBOXES=100 CPU_SLOWDOWN=4 node bench/offline-start.mjs   # a slower phone
import { chromium } from 'playwright-core';
import { chromiumOptions, startLocalServer } from '../scripts/local-harness.mjs';

const RUNS = Number(process.env.RUNS ?? 20);
const MAILBOXES = Number(process.env.MAILBOXES ?? 25);
/** Chrome DevTools CPU throttling: 4 is roughly a mid-range phone against this machine. */
const CPU_SLOWDOWN = Number(process.env.CPU_SLOWDOWN ?? 1);

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
	const first = await context.newPage();
	await first.goto(`/login#token=${encodeURIComponent(server.adminToken)}`);
	await first.waitForFunction(() => Reflect.get(window, '__mailgateUsableAt') !== undefined, null, { timeout: 30_000 });
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
		const page = await context.newPage();
		if (CPU_SLOWDOWN > 1) {
			const cdp = await context.newCDPSession(page);
			await cdp.send('Emulation.setCPUThrottlingRate', { rate: CPU_SLOWDOWN });
		}
		await page.goto('/');
		await page.waitForFunction(() => Reflect.get(window, '__mailgateUsableAt') !== undefined, null, { timeout: 30_000 });
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

/** @param {{ baseUrl: string, adminToken: string }} target */
async function seed({ baseUrl, adminToken }) {
	const post = async (/** @type {string} */ path, /** @type {unknown} */ body) => {
		const response = await fetch(`${baseUrl}${path}`, {
			method: 'POST',
			headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
			body: JSON.stringify(body)
		});
		if (!response.ok) throw new Error(`Seeding ${path} failed: ${response.status} ${await response.text()}`);
		return response.json();
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
