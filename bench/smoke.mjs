#!/usr/bin/env node
// Every benchmark at its smallest size with a few samples (BENCH_SMOKE=1), one after another, so
// that `npm test` catches the day one stops working: a bench that fails prints its whole output
// (the runtime's error included, scripts/local-harness.mjs) and the run exits non-zero. The
// figures of a smoke run mean nothing; the README's come from the full runs.
// Usage: npm run test:bench   (node bench/smoke.mjs [name…] runs the named ones only)
import { spawn } from 'node:child_process';
import path from 'node:path';
import { ROOT } from '../scripts/local-harness.mjs';

/** The benchmarks, as the README lists them. */
const BENCHES = ['bundle-size.mjs', 'api-latency.mjs', 'offline-start.mjs', 'inbound/run.mjs', 'log-query.mjs', 'outbound.mjs', 'webhooks/run.mjs'];
/** A smoke run that takes longer is stuck: it is stopped and fails. */
const BENCH_TIMEOUT_MS = 180_000;

const only = process.argv.slice(2);
const chosen = only.length > 0 ? BENCHES.filter((bench) => only.some((name) => bench.startsWith(name))) : BENCHES;
if (chosen.length === 0) {
	console.error(`No bench matches ${only.join(', ')}; the benches are ${BENCHES.join(', ')}.`);
	process.exit(2);
}

/**
 * @param {string} bench
 * @returns {Promise<{ ok: boolean, ms: number, output: string }>}
 */
function run(bench) {
	const started = performance.now();
	return new Promise((resolve) => {
		// Its own process group, so a timeout stops the bench and the wrangler dev it started.
		const child = spawn(process.execPath, [path.join(ROOT, 'bench', bench)], {
			cwd: ROOT,
			env: { ...process.env, BENCH_SMOKE: '1' },
			stdio: ['ignore', 'pipe', 'pipe'],
			detached: true
		});
		let output = '';
		child.stdout.on('data', (chunk) => (output += chunk));
		child.stderr.on('data', (chunk) => (output += chunk));
		const timer = setTimeout(() => {
			output += `\n(bench/smoke.mjs: stopped after ${BENCH_TIMEOUT_MS / 1000} s)`;
			try {
				process.kill(-(child.pid ?? 0), 'SIGTERM');
			} catch {
				// already gone
			}
		}, BENCH_TIMEOUT_MS);
		child.on('close', (code, signal) => {
			clearTimeout(timer);
			resolve({ ok: code === 0 && signal === null, ms: performance.now() - started, output });
		});
	});
}

const started = performance.now();
const failed = [];
for (const bench of chosen) {
	const result = await run(bench);
	console.log(`${result.ok ? 'ok  ' : 'FAIL'} bench/${bench} (${(result.ms / 1000).toFixed(1)} s)`);
	if (!result.ok) {
		failed.push(bench);
		console.log(result.output.replace(/^/gm, '  | '));
	}
}
console.log(
	`${chosen.length - failed.length} of ${chosen.length} benchmarks ran (smoke: smallest size, a few samples) in ${((performance.now() - started) / 1000).toFixed(1)} s` +
		(failed.length > 0 ? `; failed: ${failed.join(', ')}` : '')
);
process.exitCode = failed.length > 0 ? 1 : 0;
