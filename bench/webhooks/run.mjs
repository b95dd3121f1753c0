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
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT, freePort, startLocalServer } from '../../scripts/local-harness.mjs';

const MESSAGES = 200;
const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';
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
/** @type {import('node:child_process').ChildProcess | null} */
let benchDev = null;
const state = mkdtempSync(path.join(tmpdir(), 'mailgate-webhooks-bench-'));
try {
	const api = async (/** @type {string} */ method, /** @type {string} */ url, /** @type {unknown} */ body) => {
		const response = await fetch(`${server.baseUrl}${url}`, {
			method,
			headers: { authorization: `Bearer ${server.adminToken}`, 'content-type': 'application/json' },
			body: body === undefined ? undefined : JSON.stringify(body)
		});
		if (!response.ok) throw new Error(`${method} ${url}: ${response.status} ${await response.text()}`);
		return response.json();
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
		if (!response.ok) throw new Error(`email(): ${response.status} ${await response.text()}`);
		latencies.push(-accepted);
		arrivals.push(id);
		// A steady trickle (a busy desk's inbox), not one burst: 20 messages a second.
		await new Promise((resolve) => setTimeout(resolve, 50));
	}
	const deadline = performance.now() + 60_000;
	while (arrived.size < MESSAGES && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
	const e2e = arrivals.map((id, i) => (arrived.get(id) ?? NaN) + latencies[i]).filter((x) => !Number.isNaN(x));
	console.log(`message accepted by email() → signed webhook at the receiver (${e2e.length} of ${MESSAGES} arrived):`);
	console.log(`  p50 ${percentile(e2e, 50).toFixed(0)} ms   p95 ${percentile(e2e, 95).toFixed(0)} ms   max ${Math.max(...e2e).toFixed(0)} ms`);

	// 2. Signing cost inside workerd.
	const config = path.join(ROOT, 'bench/webhooks/wrangler.toml');
	const port = await freePort();
	benchDev = spawn(npx, ['wrangler', 'dev', '-c', config, '--ip', '127.0.0.1', '--port', String(port), '--persist-to', state, '--show-interactive-dev-session=false'], {
		cwd: ROOT,
		stdio: 'ignore',
		detached: true
	});
	const base = `http://127.0.0.1:${port}`;
	for (let i = 0; i < 400; i++) {
		try {
			if ((await fetch(`${base}/bare?n=1&to=${encodeURIComponent(receiverUrl)}`, { method: 'POST', body: '{}' })).ok) break;
		} catch {
			// not up yet
		}
		await new Promise((resolve) => setTimeout(resolve, 300));
	}
	const sample = JSON.stringify({ type: 'message.received', timestamp: new Date().toISOString(), data: { text: 'x'.repeat(4000) } });
	const big = JSON.stringify({ type: 'message.received', timestamp: new Date().toISOString(), data: { text: 'x'.repeat(500_000) } });
	console.log('\nthe Worker\'s cost per delivery (median of 15 runs of 20 deliveries, per delivery):');
	console.log('body      bare fetch ms   sign + fetch ms   ratio');
	for (const [label, body] of [['4 KB', sample], ['500 KB', big]]) {
		/** @type {Record<string, number[]>} */
		const runs = { bare: [], signed: [] };
		for (let r = 0; r < 17; r++) {
			for (const kind of ['bare', 'signed']) {
				const started = performance.now();
				const response = await fetch(`${base}/${kind}?n=20&to=${encodeURIComponent(receiverUrl)}`, { method: 'POST', body });
				await response.text();
				if (r >= 2) runs[kind].push((performance.now() - started) / 20);
			}
		}
		const bare = percentile(runs.bare, 50);
		const signed = percentile(runs.signed, 50);
		console.log(`${label.padEnd(9)} ${bare.toFixed(2).padStart(13)} ${signed.toFixed(2).padStart(17)} ${(signed / bare).toFixed(2).padStart(7)}×`);
	}
} finally {
	if (benchDev?.pid) {
		try {
			process.kill(-benchDev.pid, 'SIGTERM');
		} catch {
			// already gone
		}
	}
	await server.stop();
	receiver.close();
	doh.close();
	rmSync(state, { recursive: true, force: true });
}
