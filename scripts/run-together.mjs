#!/usr/bin/env node
// Runs shell commands side by side, each line of their output prefixed with its label, and
// exits non-zero if any of them failed (after all have finished, so every failure is printed).
// `npm test` uses it for the Worker suite beside the browser suite (then the bench smoke):
// the browser tests mostly wait (wrangler dev, Chromium, one page at a time) and the Worker
// suite keeps about one core busy, so together they take about as long as the longer of the two.
// A job that prints nothing for RUN_TOGETHER_STALL_SECONDS (300) is hung: it is stopped with what
// it started, the log names the test files it never reported and the processes still running,
// and it runs once more (a job that failed is never run again).
// Usage: node scripts/run-together.mjs "label=command" "label=command" …
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';

const jobs = process.argv.slice(2).map((arg) => {
	const split = arg.indexOf('=');
	if (split < 1) {
		console.error(`Expected label=command, got ${JSON.stringify(arg)}`);
		process.exit(2);
	}
	return { label: arg.slice(0, split), command: arg.slice(split + 1) };
});
const width = Math.max(...jobs.map((job) => job.label.length));

/** vitest's own lines for a failed test (and where it failed): printed before any error line a runtime logged. */
const TEST_FAILURE_LINE = /(\bFAIL\b|×|✗|❯ \S+\.test\.ts:\d+)/;
// Lines that name a failure (vitest's "FAIL file > test", "×", "❯ file:line:column", an error's
// first line such as "AssertionError:" but not a logged field like "providerError:"). A job that
// fails gets them again at the very end, so the tail of a long interleaved log says what broke and where.
const FAILURE_LINE = new RegExp(`${TEST_FAILURE_LINE.source}|\\b(?:[A-Z]\\w*)?Error:|[Tt]imed out`);
const FAILURES_KEPT = 30;
/** Lines collected per job, of which the first FAILURES_KEPT are printed, vitest's first. */
const FAILURES_COLLECTED = 500;

/**
 * A job that prints nothing for this long is stopped (its whole process group) and counted as
 * failed, with the test files it never reported: a hang (a test runtime that stopped answering)
 * then ends the run in minutes with its place named, instead of holding CI until its own limit.
 * The longest quiet stretch of a healthy run is one browser test file (under a minute).
 */
const STALL_MS = Number(process.env.RUN_TOGETHER_STALL_SECONDS ?? 300) * 1000;
const TEST_FILE = /\btests\/[\w./-]+\.test\.ts\b/g;

/** Test files under the folders a job's output named that it never named itself (not reported). */
function unreported(named) {
	const folders = new Set([...named].map((file) => path.dirname(file)));
	const all = [...folders].flatMap((folder) =>
		readdirSync(folder, { recursive: true, encoding: 'utf8' })
			.filter((file) => file.endsWith('.test.ts'))
			.map((file) => path.join(folder, file).split(path.sep).join('/'))
	);
	return [...new Set(all)].filter((file) => !named.has(file)).sort();
}

/** Writes `chunk` line by line with the job's label, keeping a partial last line for the next chunk. */
function prefixer(label, stream, failures, named) {
	let partial = '';
	const emit = (line) => {
		stream.write(`[${label.padEnd(width)}] ${line}\n`);
		// eslint-disable-next-line no-control-regex
		const plain = line.replace(/\u001b\[[0-9;]*m/g, '').trim();
		for (const file of plain.match(TEST_FILE) ?? []) named.add(file);
		if (FAILURE_LINE.test(plain) && failures.length < FAILURES_COLLECTED) failures.push(plain.slice(0, 300));
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

/** Runs `command` once; resolves with how it ended, `stalled` when the watchdog stopped it. */
function runOnce(label, command) {
	return new Promise((resolve) => {
		// Its own process group (detached), so a stall stops it with everything it started.
		const child = spawn(command, { shell: true, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: process.env.FORCE_COLOR ?? '0' } });
		const failures = [];
		const named = new Set();
		const out = prefixer(label, process.stdout, failures, named);
		const err = prefixer(label, process.stderr, failures, named);
		let heard = performance.now();
		/** What the watchdog said when it stopped the job ('' while it has not). */
		let stallLine = '';
		let ended = false;
		const end = (code, signal) => {
			if (ended) return;
			ended = true;
			clearInterval(watch);
			out.end();
			err.end();
			resolve({ code, signal, stalled: stallLine !== '', stallLine, failures });
		};
		child.stdout.on('data', (chunk) => ((heard = performance.now()), out.write(String(chunk))));
		child.stderr.on('data', (chunk) => ((heard = performance.now()), err.write(String(chunk))));
		const watch = setInterval(() => {
			if (stallLine || performance.now() - heard < STALL_MS) return;
			stallLine = `no output for ${STALL_MS / 1000} s: stopped. Test files it had not reported: ${unreported(named).join(', ') || 'none'}`;
			failures.push(stallLine);
			err.write(`${stallLine}\n`);
			// What was still running, for the log: which runtime hung, and for how long.
			const ps = spawnSync('ps', ['-o', 'pid,stat,etime,rss,args', '-g', String(child.pid)], { encoding: 'utf8' });
			for (const row of (ps.stdout ?? '').split('\n').filter(Boolean)) err.write(`  ${row.slice(0, 200)}\n`);
			try {
				process.kill(-child.pid, 'SIGKILL');
			} catch {
				child.kill('SIGKILL');
			}
			// A process outside the group may still hold the pipes open: do not wait on it.
			setTimeout(() => end(null, 'SIGKILL'), 10_000).unref();
		}, 5_000);
		child.on('close', end);
	});
}

/**
 * Each job; one that stalled (printed nothing for STALL_MS, so it was hung, not failing) runs
 * once more, said in the log and in its last line. A job that failed is never run again.
 */
const results = await Promise.all(
	jobs.map(async ({ label, command }) => {
		let run = await runOnce(label, command);
		let note = '';
		if (run.stalled) {
			const first = run.stallLine;
			process.stderr.write(`[${label.padEnd(width)}] running it again, once: the first run hung (${first})\n`);
			run = await runOnce(label, command);
			run.failures.unshift(`first run: ${first}`);
			note = ', on its second run after the first hung';
		}
		const seconds = ((performance.now() - started) / 1000).toFixed(1);
		const said = run.stalled ? `stopped after ${STALL_MS / 1000} s without output` : run.signal ? `stopped by ${run.signal}` : `exit ${run.code}`;
		return { label, ok: run.code === 0 && !run.stalled, said: said + note, seconds, failures: run.failures };
	})
);
for (const { label, ok, failures } of results) {
	if (ok || failures.length === 0) continue;
	console.log(`--- ${label}: lines that name a failure (first ${FAILURES_KEPT}) ---`);
	const leading = (line) => TEST_FAILURE_LINE.test(line) || /^(first run: )?no output for /.test(line);
	const first = [...failures.filter(leading), ...failures.filter((line) => !leading(line))];
	for (const line of first.slice(0, FAILURES_KEPT)) console.log(`  ${line}`);
}
for (const { label, ok, said, seconds } of results) console.log(`${ok ? 'ok  ' : 'FAIL'} ${label} (${said}, ${seconds} s)`);
process.exit(results.every((result) => result.ok) ? 0 : 1);
