#!/usr/bin/env node
// Runs shell commands side by side, each line of their output prefixed with its label, and
// exits non-zero if any of them failed (after all have finished, so every failure is printed).
// `npm test` uses it for the Worker suite (then the bench smoke runs) beside the browser suite:
// the browser tests mostly wait (wrangler dev, Chromium, one page at a time) and the Worker
// suite keeps about one core busy, so together they take about as long as the longer of the two.
// Usage: node scripts/run-together.mjs "label=command" "label=command" …
import { spawn } from 'node:child_process';

const jobs = process.argv.slice(2).map((arg) => {
	const split = arg.indexOf('=');
	if (split < 1) {
		console.error(`Expected label=command, got ${JSON.stringify(arg)}`);
		process.exit(2);
	}
	return { label: arg.slice(0, split), command: arg.slice(split + 1) };
});
const width = Math.max(...jobs.map((job) => job.label.length));

/** Writes `chunk` line by line with the job's label, keeping a partial last line for the next chunk. */
function prefixer(label, stream) {
	let partial = '';
	return {
		write(chunk) {
			const lines = (partial + chunk).split('\n');
			partial = lines.pop() ?? '';
			for (const line of lines) stream.write(`[${label.padEnd(width)}] ${line}\n`);
		},
		end() {
			if (partial) stream.write(`[${label.padEnd(width)}] ${partial}\n`);
		}
	};
}

const started = performance.now();
const results = await Promise.all(
	jobs.map(
		({ label, command }) =>
			new Promise((resolve) => {
				const child = spawn(command, { shell: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: process.env.FORCE_COLOR ?? '0' } });
				const out = prefixer(label, process.stdout);
				const err = prefixer(label, process.stderr);
				child.stdout.on('data', (chunk) => out.write(String(chunk)));
				child.stderr.on('data', (chunk) => err.write(String(chunk)));
				child.on('close', (code, signal) => {
					out.end();
					err.end();
					const seconds = ((performance.now() - started) / 1000).toFixed(1);
					resolve({ label, ok: code === 0, said: signal ? `stopped by ${signal}` : `exit ${code}`, seconds });
				});
			})
	)
);
for (const { label, ok, said, seconds } of results) console.log(`${ok ? 'ok  ' : 'FAIL'} ${label} (${said}, ${seconds} s)`);
process.exit(results.every((result) => result.ok) ? 0 : 1);
