#!/usr/bin/env node
// Webhooks (issue 13: bench/webhooks), in one run:
// 1. End to end: 200 messages handed to the real email() handler under `wrangler dev` (the
//    app's own harness, real D1, R2 and Queues), each announced as a signed message.received
//    webhook to a receiver on loopback: the time from email() accepting the message (its HTTP
//    answer) to the receiver getting the webhook, p50 and p95.
// 2. The Worker's own cost per delivery: the real signing (worker/webhooks/request.ts
//    `signedRequest`) plus the fetch, against a bare fetch of the same body, both run by
//    workerd (bench/webhooks/worker.ts) and timed from here over loopback.
// DNS answers come from a loopback DoH stub (NXDOMAIN), so nothing leaves the machine.
// Usage: npm run build && node bench/webhooks/run.mjs
// (BENCH_SMOKE=1: 5 messages, 3 runs of 2 deliveries; npm run test:bench)
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT, StartupFailure, startLocalServer, startWranglerDev } from '../../scripts/local-harness.mjs';

const SMOKE = process.env.BENCH_SMOKE === '1';
const MESSAGES = SMOKE ? 5 : 200;
/** Runs of the signing comparison (after 2 warm-up runs), and deliveries in each. */
const RUNS = SMOKE ? 3 : 15;
const PER_RUN = SMOKE ? 2 : 20;
const percentile = (/** @type {number[]} */ values, /** @type {number} */ p) => {
	const sorted = [...values].sort((a, b) => a - b);
	return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
};
const listen = async (/** @type {import('node:http').Server} */ server) => {
	await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
	return /** @type {import('node:net').AddressInfo} */ (server.address()).port;
};

const doh = createServer((_request, response) => {
	response.writeHead(200, { 'content-type': 'application/dns-json' });
	response.end(JSON.stringify({ Status: 3, Answer: [] }));
});
const dohPort = await listen(doh);
process.env.MAILGATE_DNS_RESOLVER_URL = `http://127.0.0.1:${dohPort}/dns-query`;

/** @type {Map<string, number>} when each message's webhook arrived, by Message-ID */
const arrived = new Map();
const receiver = createServer((request, response) => {
	const chunks = /** @type {Buffer[]} */ ([]);
	request.on('data', (chunk) => chunks.push(chunk));
	request.on('end', () => {
		const at = performance.now();
		try {
			const event = JSON.parse(Buffer.concat(chunks).toString('utf8'));
			if (event.type === 'message.received' && request.headers['webhook-signature']) arrived.set(event.data.messageId, at);
		} catch {
			// not ours
		}
		response.writeHead(200).end();
	});
});
const receiverPort = await listen(receiver);
const receiverUrl = `http://127.0.0.1:${receiverPort}/hooks`;

const server = await startLocalServer();
/** @type {import('../../scripts/local-harness.mjs').WranglerDev | null} */
let benchDev = null;
const state = mkdtempSync(path.join(tmpdir(), 'mailgate-webhooks-bench-'));
try {
	const api = async (/** @type {string} */ method, /** @type {string} */ url, /** @type {unknown} */ body) => {
		const response = await fetch(`${server.baseUrl}${url}`, {
			method,
			headers: { authorization: `Bearer ${server.adminToken}`, 'content-type': 'application/json' },
			body: body === undefined ? undefined : JSON.stringify(body)
		});
		// A failure throws with its body and the Worker's error as wrangler dev printed it.
		return (await server.check(response, `${method} ${url}`)).json();
	};
	const integration = await api('POST', '/api/integrations', { name: 'Bench desk' });
	await api('PATCH', `/api/integrations/${integration.id}`, { webhook: { url: receiverUrl } });
	const address = 'support@bench.example.com';
	await api('POST', '/api/mailboxes', {
		integrationId: integration.id,
		name: 'Bench',
		address,
		smtp: { host: 'smtp.example.com', port: 587, username: 'u', password: 'p', encryption: 'starttls' }
	});

	/** @type {number[]} */
	const latencies = [];
	/** @type {string[]} */
	const arrivals = [];
	const message = (/** @type {number} */ n) =>
		`Received-SPF: none (mx.cloudflare.net) client-ip=192.0.2.1; helo=mail.example.org;\r\n` +
		`Received: from mail.example.org (mail.example.org [192.0.2.1]) by mx.cloudflare.net; Tue, 24 Nov 2026 09:00:00 +0000\r\n` +
		`From: Customer <customer@example.org>\r\nTo: ${address}\r\nSubject: Order ${n}\r\nMessage-ID: <bench-${n}-${Date.now()}@example.org>\r\n` +
		`Date: Tue, 24 Nov 2026 09:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n` +
		`Hello, my order ${n} has not arrived yet. Could you check it please?\r\n\r\nOn Mon, 23 Nov 2026 at 10:00, Bench <${address}> wrote:\r\n> We shipped it.\r\n`;
	for (let n = 0; n < MESSAGES; n++) {
		const raw = message(n);
		const id = /Message-ID: <([^>]+)>/.exec(raw)?.[1] ?? '';
		const response = await fetch(`${server.baseUrl}/cdn-cgi/handler/email?from=customer@example.org&to=${address}`, { method: 'POST', body: raw });
		const accepted = performance.now();
		await server.check(response, 'email()');
		latencies.push(-accepted);
		arrivals.push(id);
		// A steady trickle (a busy desk's inbox), not one burst: 20 messages a second.
		await new Promise((resolve) => setTimeout(resolve, 50));
	}
	const deadline = performance.now() + 60_000;
	while (arrived.size < MESSAGES && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
	const e2e = arrivals.map((id, i) => (arrived.get(id) ?? NaN) + latencies[i]).filter((x) => !Number.isNaN(x));
	// A webhook that never comes is the product failing (or this bench rotting), not a figure.
	if (e2e.length < MESSAGES) {
		throw new Error(`only ${e2e.length} of ${MESSAGES} webhooks arrived within 60 s of the last message\n--- wrangler dev output ---\n${server.output()}`);
	}
	console.log(`message accepted by email() → signed webhook at the receiver (${e2e.length} of ${MESSAGES} arrived):`);
	console.log(`  p50 ${percentile(e2e, 50).toFixed(0)} ms   p95 ${percentile(e2e, 95).toFixed(0)} ms   max ${Math.max(...e2e).toFixed(0)} ms`);

	// 2. Signing cost inside workerd.
	const config = path.join(ROOT, 'bench/webhooks/wrangler.toml');
	benchDev = await startWranglerDev({
		args: ['-c', config, '--persist-to', state],
		logDir: state,
		ready: async (url, signal) => {
			const response = await fetch(`${url}/bare?n=1&to=${encodeURIComponent(receiverUrl)}`, { method: 'POST', body: '{}', signal });
			if (response.ok) return true;
			// The bench Worker threw: waiting will not help.
			if (response.status >= 500) throw new StartupFailure(`POST /bare: HTTP ${response.status} ${(await response.text()).slice(0, 1000)}`);
			return `HTTP ${response.status}`;
		}
	});
	const { baseUrl: base, check } = benchDev;
	const sample = JSON.stringify({ type: 'message.received', timestamp: new Date().toISOString(), data: { text: 'x'.repeat(4000) } });
	const big = JSON.stringify({ type: 'message.received', timestamp: new Date().toISOString(), data: { text: 'x'.repeat(500_000) } });
	console.log(`\nthe Worker's cost per delivery (median of ${RUNS} runs of ${PER_RUN} deliveries, per delivery):`);
	console.log('body      bare fetch ms   sign + fetch ms   ratio');
	for (const [label, body] of [['4 KB', sample], ['500 KB', big]]) {
		/** @type {Record<string, number[]>} */
		const runs = { bare: [], signed: [] };
		for (let r = 0; r < RUNS + 2; r++) {
			for (const kind of ['bare', 'signed']) {
				const started = performance.now();
				const response = await check(await fetch(`${base}/${kind}?n=${PER_RUN}&to=${encodeURIComponent(receiverUrl)}`, { method: 'POST', body }), `POST /${kind}`);
				await response.text();
				if (r >= 2) runs[kind].push((performance.now() - started) / PER_RUN);
			}
		}
		const bare = percentile(runs.bare, 50);
		const signed = percentile(runs.signed, 50);
		console.log(`${label.padEnd(9)} ${bare.toFixed(2).padStart(13)} ${signed.toFixed(2).padStart(17)} ${(signed / bare).toFixed(2).padStart(7)}×`);
	}
} finally {
	await benchDev?.stop();
	await server.stop();
	receiver.close();
	doh.close();
	rmSync(state, { recursive: true, force: true });
}
