#!/usr/bin/env node
// The inbound pipeline's cost per message (issue: bench/inbound): for 2 KB, 50 KB, 1 MB and
// 10 MB messages, the real email() path (handleInbound: parse, authenticate, diagnose, archive
// the original in R2, log in D1; both simulated locally) against its bare floor (postal-mime parse + mailauth authenticate on the same
// bytes), both run by workerd under `wrangler dev` (bench/inbound/worker.ts) and timed from
// here over loopback; an empty endpoint measures the HTTP overhead both share, which is
// subtracted. DNS answers come from a loopback DoH stub (NXDOMAIN for everything), so no
// lookup leaves the machine. Figures compare code on one machine; they are not CPU time.
// Usage: node bench/inbound/run.mjs
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT, freePort } from '../../scripts/local-harness.mjs';

const CONFIG = path.join(ROOT, 'bench/inbound/wrangler.toml');
const SIZES = [
	{ label: '2 KB', bytes: 2 * 1024, runs: 40 },
	{ label: '50 KB', bytes: 50 * 1024, runs: 30 },
	{ label: '1 MB', bytes: 1024 * 1024, runs: 10 },
	{ label: '10 MB', bytes: 10 * 1024 * 1024, runs: 4 }
];
const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';

const doh = createServer((_request, response) => {
	response.writeHead(200, { 'content-type': 'application/dns-json' });
	response.end(JSON.stringify({ Status: 3, Answer: [] }));
});
await new Promise((resolve) => doh.listen(0, '127.0.0.1', () => resolve(undefined)));
const dohPort = /** @type {import('node:net').AddressInfo} */ (doh.address()).port;

const state = mkdtempSync(path.join(tmpdir(), 'mailgate-bench-'));
const port = await freePort();
spawnSync(npx, ['wrangler', 'd1', 'migrations', 'apply', 'DB', '--local', '--persist-to', state, '-c', CONFIG], { cwd: ROOT, stdio: 'ignore' });
const dev = spawn(
	npx,
	['wrangler', 'dev', '-c', CONFIG, '--ip', '127.0.0.1', '--port', String(port), '--persist-to', state, '--var', `DNS_RESOLVER_URL:http://127.0.0.1:${dohPort}/dns-query`, '--show-interactive-dev-session=false'],
	{ cwd: ROOT, stdio: 'ignore', detached: true }
);
const base = `http://127.0.0.1:${port}`;

try {
	for (let i = 0; i < 300; i++) {
		try {
			if ((await fetch(`${base}/setup`)).ok) break;
		} catch {
			// not up yet
		}
		await new Promise((resolve) => setTimeout(resolve, 300));
	}

	/** A message of about `size` bytes: headers, a text part and, past 50 KB, a base64 attachment. */
	const message = (/** @type {number} */ size, /** @type {number} */ n) => {
		const head =
			`Received: from mail.example.org (mail.example.org [192.0.2.1]) by mx.cloudflare.net; Tue, 24 Nov 2026 09:00:00 +0000\r\n` +
			`From: Customer <customer@example.org>\r\nTo: support@bench.example.com\r\nSubject: Order ${n}\r\n` +
			`Message-ID: <bench-${size}-${n}-${Date.now()}@example.org>\r\nDate: Tue, 24 Nov 2026 09:00:00 +0000\r\nMIME-Version: 1.0\r\n` +
			`Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n`;
		const textSize = Math.min(size, 48 * 1024);
		const text = 'Hello, my order has not arrived yet. Could you check it please?\r\n'.repeat(Math.ceil(textSize / 66)).slice(0, textSize);
		let body = `${head}${text}\r\n`;
		if (size > body.length + 200) {
			const base64 = Buffer.alloc(Math.floor(((size - body.length - 200) * 3) / 4), 7).toString('base64').replace(/.{76}/g, '$&\r\n');
			body += `--b\r\nContent-Type: application/pdf; name="invoice.pdf"\r\nContent-Disposition: attachment; filename="invoice.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n${base64}\r\n`;
		}
		return `${body}--b--\r\n`;
	};

	const time = async (/** @type {string} */ endpoint, /** @type {string} */ body) => {
		const started = performance.now();
		const response = await fetch(`${base}${endpoint}`, { method: 'POST', body });
		await response.text();
		if (!response.ok) throw new Error(`${endpoint}: ${response.status}`);
		return performance.now() - started;
	};
	const median = (/** @type {number[]} */ values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

	console.log('size     empty ms   floor ms   handler ms   handler/floor   without storage ms   without-storage/floor (HTTP overhead subtracted)');
	for (const { label, bytes, runs } of SIZES) {
		/** @type {Record<string, number[]>} */
		const samples = { empty: [], floor: [], handler: [], memory: [] };
		for (let n = 0; n < runs + 2; n++) {
			const raw = message(bytes, n);
			const empty = await time('/empty', raw);
			const floor = await time('/floor', raw);
			const handler = await time('/handler', raw);
			const memory = await time('/handler-without-storage', message(bytes, n + 10_000));
			if (n < 2) continue; // warm-up
			samples.empty.push(empty);
			samples.floor.push(floor);
			samples.handler.push(handler);
			samples.memory.push(memory);
		}
		const [e, f, h, m] = [median(samples.empty), median(samples.floor), median(samples.handler), median(samples.memory)];
		const ratio = (/** @type {number} */ x) => `${((x - e) / Math.max(0.01, f - e)).toFixed(2)}×`;
		console.log(
			`${label.padEnd(8)} ${e.toFixed(1).padStart(8)} ${f.toFixed(1).padStart(10)} ${h.toFixed(1).padStart(12)} ${ratio(h).padStart(15)} ${m.toFixed(1).padStart(15)} ${ratio(m).padStart(12)}`
		);
	}
} finally {
	try {
		process.kill(-(dev.pid ?? 0), 'SIGTERM');
	} catch {
		// already gone
	}
	doh.close();
	rmSync(state, { recursive: true, force: true });
}
