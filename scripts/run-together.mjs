#!/usr/bin/env node
// Runs shell commands side by side, each line of their output prefixed with its label, and
// exits non-zero if any of them failed (after all have finished, so every failure is printed).
// `npm test` uses it for the Worker suite beside the browser suite (then the bench smoke):
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

// Lines that name a failure (vitest's "FAIL file > test", "×", an assertion's first line, and the
// "❯ file:line:column" that says where in a test it happened). A job that fails gets them again at
// the very end, so the tail of a long interleaved log says what broke and where.
const FAILURE_LINE = /(\bFAIL\b|×|✗|AssertionError|Error:|Timed out|timed out|❯ \S+\.test\.ts:\d+)/;
const FAILURES_KEPT = 30;

/** Writes `chunk` line by line with the job's label, keeping a partial last line for the next chunk. */
function prefixer(label, stream, failures) {
	let partial = '';
	const emit = (line) => {
		stream.write(`[${label.padEnd(width)}] ${line}\n`);
		// eslint-disable-next-line no-control-regex
		const plain = line.replace(/\u001b\[[0-9;]*m/g, '').trim();
		if (FAILURE_LINE.test(plain) && failures.length < FAILURES_KEPT) failures.push(plain.slice(0, 300));
	};
	return {
		write(chunk) {
			const lines = (partial + chunk).split('\n');
			partial = lines.pop() ?? '';
			for (const line of lines) emit(line);
		},
		end() {
			if (partial) emit(partial);
		}
	};
}

const started = performance.now();
const results = await Promise.all(
	jobs.map(
		({ label, command }) =>
			new Promise((resolve) => {
				const child = spawn(command, { shell: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: process.env.FORCE_COLOR ?? '0' } });
				const failures = [];
				const out = prefixer(label, process.stdout, failures);
				const err = prefixer(label, process.stderr, failures);
				child.stdout.on('data', (chunk) => out.write(String(chunk)));
				child.stderr.on('data', (chunk) => err.write(String(chunk)));
				child.on('close', (code, signal) => {
					out.end();
					err.end();
					const seconds = ((performance.now() - started) / 1000).toFixed(1);
					resolve({ label, ok: code === 0, said: signal ? `stopped by ${signal}` : `exit ${code}`, seconds, failures });
				});
			})
	)
);
for (const { label, ok, failures } of results) {
	if (ok || failures.length === 0) continue;
	console.log(`--- ${label}: lines that name a failure (first ${FAILURES_KEPT}) ---`);
	for (const line of failures) console.log(`  ${line}`);
}
for (const { label, ok, said, seconds } of results) console.log(`${ok ? 'ok  ' : 'FAIL'} ${label} (${said}, ${seconds} s)`);
process.exit(results.every((result) => result.ok) ? 0 : 1);
