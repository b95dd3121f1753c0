#!/usr/bin/env node
// The inbound pipeline's cost per message (issue: bench/inbound): for 2 KB, 50 KB, 1 MB and
// 10 MB messages, the real email() path (handleInbound: parse, authenticate, diagnose, archive
// the original in R2, log in D1; both simulated locally) against its bare floor (postal-mime parse + mailauth authenticate on the same
// bytes), both run by workerd under `wrangler dev` (bench/inbound/worker.ts) and timed from
// here over loopback; an empty endpoint measures the HTTP overhead both share, which is
// subtracted. DNS answers come from a loopback DoH stub (NXDOMAIN for everything), so no
// lookup leaves the machine. Figures compare code on one machine; they are not CPU time.
// Usage: node bench/inbound/run.mjs   (BENCH_SMOKE=1: 2 KB, 3 samples, and 50 KB, the first size
// with an attachment, 1 sample; npm run test:bench)
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT, StartupFailure, migratedLocalD1, startWranglerDev } from '../../scripts/local-harness.mjs';

const CONFIG = path.join(ROOT, 'bench/inbound/wrangler.toml');
const SMOKE = process.env.BENCH_SMOKE === '1';
const SIZES = SMOKE
	? [
			{ label: '2 KB', bytes: 2 * 1024, runs: 3 },
			{ label: '50 KB', bytes: 50 * 1024, runs: 1 }
		]
	: [
			{ label: '2 KB', bytes: 2 * 1024, runs: 40 },
			{ label: '50 KB', bytes: 50 * 1024, runs: 30 },
			{ label: '1 MB', bytes: 1024 * 1024, runs: 10 },
			{ label: '10 MB', bytes: 10 * 1024 * 1024, runs: 4 }
		];

const doh = createServer((_request, response) => {
	response.writeHead(200, { 'content-type': 'application/dns-json' });
	response.end(JSON.stringify({ Status: 3, Answer: [] }));
});
await new Promise((resolve) => doh.listen(0, '127.0.0.1', () => resolve(undefined)));
const dohPort = /** @type {import('node:net').AddressInfo} */ (doh.address()).port;

const state = mkdtempSync(path.join(tmpdir(), 'mailgate-bench-'));
/** @type {import('../../scripts/local-harness.mjs').WranglerDev | null} */
let dev = null;
try {
	migratedLocalD1(state, { config: CONFIG });
	dev = await startWranglerDev({
		args: ['-c', CONFIG, '--persist-to', state, '--var', `DNS_RESOLVER_URL:http://127.0.0.1:${dohPort}/dns-query`],
		logDir: state,
		ready: async (url, signal) => {
			const response = await fetch(`${url}/setup`, { signal });
			if (response.ok) return true;
			// The bench Worker threw: waiting will not help.
			if (response.status >= 500) throw new StartupFailure(`GET /setup: HTTP ${response.status} ${(await response.text()).slice(0, 1000)}`);
			return `HTTP ${response.status}`;
		}
	});
	const { baseUrl: base, check } = dev;

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
		const response = await check(await fetch(`${base}${endpoint}`, { method: 'POST', body }), `POST ${endpoint}`);
		await response.text();
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
	await dev?.stop();
	doh.close();
	rmSync(state, { recursive: true, force: true });
}
