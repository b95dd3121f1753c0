#!/usr/bin/env node
// API latency under `wrangler dev` (local workerd and local D1), measured from Node over
// loopback: create, list, read and update mailboxes, one request at a time. Prints p50/p95/max
// per route. Figures are for comparing changes on one machine, not production numbers.
// Run after `npm run build`: node bench/api-latency.mjs [mailboxes=100]
// (BENCH_SMOKE=1: 5 mailboxes, 3 list reads; npm run test:bench)
import { startLocalServer } from '../scripts/local-harness.mjs';
import { printTimings } from './figures.mjs';

const SMOKE = process.env.BENCH_SMOKE === '1';
const COUNT = Number(process.argv[2] ?? (SMOKE ? 5 : 100));
const LIST_READS = SMOKE ? 3 : 50;

const server = await startLocalServer();
const headers = { authorization: `Bearer ${server.adminToken}`, 'content-type': 'application/json' };

/** @type {Record<string, number[]>} */
const samples = {};
/**
 * @param {string} name
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 */
async function timed(name, method, path, body) {
	const started = performance.now();
	const response = await fetch(`${server.baseUrl}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
	// A failure throws with its body and the Worker's error as wrangler dev printed it.
	const payload = await (await server.check(response, `${method} ${path}`)).json();
	(samples[name] ??= []).push(performance.now() - started);
	return payload;
}

try {
	const integration = await timed('POST /api/integrations', 'POST', '/api/integrations', { name: 'Bench' });
	/** @type {Array<{ id: string, version: number }>} */
	const mailboxes = [];
	for (let i = 0; i < COUNT; i++) {
		mailboxes.push(
			await timed('POST /api/mailboxes', 'POST', '/api/mailboxes', {
				integrationId: integration.id,
				name: `Support ${i}`,
				address: `support-${i}@bench.example.com`,
				smtp: { host: 'smtp.bench.example.com', port: 587, username: `support-${i}@bench.example.com`, password: 'bench-password', encryption: 'starttls' }
			})
		);
	}
	for (let i = 0; i < LIST_READS; i++) await timed(`GET /api/mailboxes (${COUNT} rows)`, 'GET', '/api/mailboxes');
	for (const mailbox of mailboxes) await timed('GET /api/mailboxes/:id', 'GET', `/api/mailboxes/${mailbox.id}`);
	for (const mailbox of mailboxes) {
		await timed('PATCH /api/mailboxes/:id', 'PATCH', `/api/mailboxes/${mailbox.id}`, { version: mailbox.version, name: 'Renamed' });
	}
} finally {
	await server.stop();
}

printTimings('route', samples, 36);
