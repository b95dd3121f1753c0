// A throwaway local Mailgate for the browser tests and the benchmarks: the built app and the real
// Worker under `wrangler dev`, on a fresh local D1 (the real migrations) in a temporary directory,
// on a free port, with its own random ADMIN_TOKEN and SMTP_ENCRYPTION_KEY; and Debian's Chromium
// launched the same way by both.
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BUILT_APP = path.join(ROOT, '.svelte-kit/cloudflare/index.html');
/** wrangler dev compiles the Worker and boots workerd; on a slow CI machine this takes a while. */
const STARTUP_TIMEOUT_MS = 120_000;
/** One readiness probe's limit: the first request to a fresh workerd can take seconds on a busy machine. */
const PROBE_TIMEOUT_MS = 15_000;
/** wrangler's CLI run by this Node directly: `npx` would add an npm process to every call. */
const WRANGLER = [path.join(ROOT, 'node_modules/wrangler/bin/wrangler.js')];
/** Migrated local D1 states, one per wrangler config and set of migrations (migratedLocalD1). */
const D1_TEMPLATES = path.join(ROOT, 'node_modules/.cache/mailgate/d1');

/** Debian's Chromium (Playwright cannot download its own browsers here). */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** How playwright-core starts Chromium, for `chromium.launch` and `launchPersistentContext` alike. */
export const chromiumOptions = {
	executablePath: CHROMIUM_PATH,
	args: [
		'--no-sandbox',
		'--disable-gpu',
		'--disable-quic',
		'--disable-background-networking',
		'--disable-component-update',
		'--disable-sync',
		'--no-first-run'
	]
};

/**
 * @typedef {object} LocalServer
 * @property {string} baseUrl
 * @property {string} adminToken
 * @property {number | null} seedMs how long executing `seedSql` took (wall clock, wrangler's start-up included)
 * @property {() => string} output what wrangler dev printed lately: the runtime's errors first (an uncaught
 *   exception's stack), then the tail; for a bench or test to show why a request failed
 * @property {(response: Response, what: string) => Promise<Response>} check returns `response` when it is
 *   2xx, else throws with its status, its body and `output()`
 * @property {() => Promise<void>} stop stops wrangler dev (and its workerd) and removes the directory
 */

/**
 * @typedef {object} LocalServerOptions
 * @property {string} [seedSql] a .sql file executed on the fresh local D1 after the migrations, before wrangler dev starts
 * @property {(d1: (args: string[]) => string) => void} [beforeStart] called after the seed, before wrangler dev
 *   starts (so nothing else has the SQLite file open), with a function that runs
 *   `wrangler d1 execute DB --local … --yes` on this D1 with `args` appended and returns its stdout
 * @property {Record<string, string>} [extraVars] more Worker vars, written to the env file as `NAME=value`
 *   lines after the harness's own (they override `wrangler.toml` `[vars]`, e.g. `OUTBOUND_MESSAGES_PER_SESSION`)
 */

/**
 * Starts the app and API on a fresh local D1.
 * @param {LocalServerOptions} [options]
 * @returns {Promise<LocalServer>}
 */
export async function startLocalServer(options = {}) {
	ensureBuilt();
	const extraVars = Object.entries(options.extraVars ?? {}).map(([name, value]) => {
		if (!/^[A-Z_][A-Z0-9_]*$/i.test(name) || /[\r\n]/.test(value)) throw new Error(`extraVars: ${name} cannot be written as one NAME=value line`);
		return `${name}=${value}`;
	});

	const dir = mkdtempSync(path.join(tmpdir(), 'mailgate-local-'));
	const state = path.join(dir, 'state');
	const adminToken = randomBytes(24).toString('base64url');
	// With --env-file, wrangler loads this file instead of the developer's .dev.vars
	// (and ignores process.env unless CLOUDFLARE_INCLUDE_PROCESS_ENV is set, which we clear).
	const envFile = path.join(dir, 'local.env');
	writeFileSync(
		envFile,
		[
			`ADMIN_TOKEN=${adminToken}`,
			`SMTP_ENCRYPTION_KEY=${randomBytes(32).toString('base64')}`,
			// The SMTP sending test's browser tests talk to smtp-server on loopback.
			'ALLOW_PRIVATE_SMTP_HOSTS=true',
			// Webhooks reach the browser tests' receiver on loopback.
			'ALLOW_PRIVATE_WEBHOOK_HOSTS=true',
			// No DNS leaves this machine: lookups fail fast (temperror) unless a test serves DNS.
			`DNS_RESOLVER_URL=${process.env.MAILGATE_DNS_RESOLVER_URL ?? 'http://127.0.0.1:9/dns-query'}`,
			...extraVars,
			''
		].join('\n'),
		{ mode: 0o600 }
	);
	const env = {
		...process.env,
		CI: 'true',
		NO_COLOR: '1',
		WRANGLER_SEND_METRICS: 'false',
		CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV: 'true',
		CLOUDFLARE_INCLUDE_PROCESS_ENV: 'false'
	};

	/** @param {string[]} args */
	const d1 = (args) => wrangler(['d1', 'execute', 'DB', '--local', '--persist-to', state, ...args, '--yes'], env);
	/** @type {number | null} */
	let seedMs = null;
	try {
		migratedLocalD1(state, { env });
		if (options.seedSql) {
			const started = performance.now();
			d1(['--file', options.seedSql]);
			seedMs = performance.now() - started;
		}
		options.beforeStart?.(d1);
	} catch (error) {
		rmSync(dir, { recursive: true, force: true });
		throw error;
	}

	try {
		const dev = await startWranglerDev({
			args: ['--persist-to', state, '--env-file', envFile],
			env,
			logDir: dir,
			timeoutMs: STARTUP_TIMEOUT_MS,
			ready: async (baseUrl, signal) => {
				const response = await fetch(`${baseUrl}/api/integrations`, { headers: { authorization: `Bearer ${adminToken}` }, signal });
				if (response.ok) return true;
				if (response.status === 401) {
					throw new StartupFailure('wrangler dev refused the test ADMIN_TOKEN: another value (a .dev.vars?) is in force.');
				}
				return `HTTP ${response.status}: ${(await response.text()).slice(0, 200)}`;
			}
		});
		try {
			await assertOurTokenIsInForce(dev.baseUrl, adminToken);
		} catch (error) {
			const output = dev.output();
			await dev.stop();
			throw new Error(`${/** @type {Error} */ (error).message}\n--- wrangler dev output ---\n${output}`);
		}
		const stop = async () => {
			await dev.stop();
			rmSync(dir, { recursive: true, force: true });
		};
		return { baseUrl: dev.baseUrl, adminToken, seedMs, output: dev.output, check: dev.check, stop };
	} catch (error) {
		rmSync(dir, { recursive: true, force: true });
		throw error;
	}
}

/** Thrown by a `ready` probe when waiting longer cannot help (e.g. the wrong token is in force). */
export class StartupFailure extends Error {}

/**
 * @typedef {object} WranglerDev
 * @property {string} baseUrl
 * @property {() => string} output what wrangler dev printed lately, the runtime's errors first
 * @property {(response: Response, what: string) => Promise<Response>} check returns `response` when it is
 *   2xx, else throws with its status, its body and `output()`
 * @property {() => Promise<void>} stop stops wrangler dev and its workerd (its process group)
 */

/**
 * Starts `wrangler dev` on a free port (its output to `logDir/wrangler.log`) and waits until
 * `ready(baseUrl)` returns true. It fails as soon as wrangler exits (a Worker that throws at start-up
 * makes wrangler print the runtime's error and exit), when `ready` throws a StartupFailure, or after
 * `timeoutMs`; the error carries wrangler's output, so a broken Worker is reported with the
 * runtime's own words, not as a refused connection. Used by startLocalServer and by the benchmarks'
 * own Workers (bench/inbound, bench/webhooks).
 * @param {object} options
 * @param {string[]} options.args more arguments for `wrangler dev` (`-c`, `--persist-to`, `--var`, …)
 * @param {string} options.logDir an existing directory for the log (the caller removes it)
 * @param {(baseUrl: string, signal: AbortSignal) => Promise<true | string>} options.ready true when up, or
 *   what it answered; pass `signal` to fetch (a probe is cut off after PROBE_TIMEOUT_MS)
 * @param {NodeJS.ProcessEnv} [options.env]
 * @param {number} [options.timeoutMs]
 * @returns {Promise<WranglerDev>}
 */
export async function startWranglerDev({ args, logDir, ready, env = process.env, timeoutMs = STARTUP_TIMEOUT_MS }) {
	const port = await freePort();
	const inspectorPort = await freePort();
	const baseUrl = `http://127.0.0.1:${port}`;
	const logPath = path.join(logDir, 'wrangler.log');
	const log = openSync(logPath, 'a');
	const server = spawn(
		process.execPath,
		[
			...WRANGLER, 'dev',
			'--ip', '127.0.0.1',
			'--port', String(port),
			'--inspector-port', String(inspectorPort),
			'--show-interactive-dev-session=false',
			'--live-reload=false',
			...args
		],
		// Its own process group, so stopping it stops wrangler and the workerd it starts.
		{ cwd: ROOT, env: { NO_COLOR: '1', WRANGLER_SEND_METRICS: 'false', ...env }, detached: true, stdio: ['ignore', log, log] }
	);
	closeSync(log);
	const output = () => wranglerOutput(existsSync(logPath) ? readFileSync(logPath, 'utf8') : '');
	/** @type {WranglerDev} */
	const dev = {
		baseUrl,
		output,
		check: async (response, what) => {
			if (response.ok) return response;
			const body = await response.text().catch(() => '');
			throw new Error(`${what}: HTTP ${response.status} ${body.slice(0, 1000)}\n--- wrangler dev output ---\n${output()}`);
		},
		stop: () => stopGroup(server.pid)
	};
	try {
		const printedError = () => existsSync(logPath) && /\[ERROR\]/.test(readFileSync(logPath, 'utf8'));
		await waitUntilReady(baseUrl, ready, () => server.exitCode !== null || server.signalCode !== null, printedError, timeoutMs);
	} catch (error) {
		// Give wrangler a moment to finish printing the runtime's error before reading it.
		await new Promise((resolve) => setTimeout(resolve, 300));
		const printed = output();
		await dev.stop();
		throw new Error(`${/** @type {Error} */ (error).message}\n--- wrangler dev output ---\n${printed}`);
	}
	return dev;
}

/**
 * What to show of wrangler's output: every error it printed (`✘ [ERROR]`, `[wrangler:error]` and the
 * lines after each, up to the next log line), newest last, then the last lines.
 * @param {string} text
 */
export function wranglerOutput(text) {
	// eslint-disable-next-line no-control-regex
	const lines = text.replace(/\x1b\[[0-9;]*m/g, '').split(/\r?\n/);
	/** @type {string[]} */
	const errors = [];
	let inError = false;
	for (const line of lines) {
		if (/\[ERROR\]|\[wrangler:error\]/.test(line)) inError = true;
		else if (/^\s*\[wrangler:(info|warn|debug)\]/.test(line) || /^[?🤖🪵]/u.test(line)) inError = false;
		if (inError && line.trim() !== '') errors.push(line);
	}
	const tail = lines.filter((line) => line.trim() !== '').slice(-15).join('\n');
	const shown = errors.length > 0 ? `${errors.join('\n').slice(-6000)}\n--- last lines ---\n${tail}` : tail;
	return shown.slice(-8000);
}

/**
 * Runs the wrangler CLI and returns its stdout; throws with its output when it fails.
 * @param {string[]} args
 * @param {NodeJS.ProcessEnv} [env]
 */
export function wrangler(args, env = process.env) {
	const run = spawnSync(process.execPath, [...WRANGLER, ...args], { cwd: ROOT, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
	if (run.status !== 0) throw new Error(`\`wrangler ${args.join(' ')}\` failed:\n${run.stdout}\n${run.stderr}`);
	return run.stdout;
}

/**
 * Fills `state` (a `--persist-to` directory) with a local D1 on which every migration is applied.
 * `wrangler d1 migrations apply` starts a runtime of its own (seconds of CPU); it runs once per
 * wrangler config and set of migrations, into node_modules/.cache, and each server gets a copy.
 * @param {string} state
 * @param {{ config?: string, env?: NodeJS.ProcessEnv }} [options] config: a wrangler config other than ROOT's
 */
export function migratedLocalD1(state, { config, env = process.env } = {}) {
	const configPath = config ?? path.join(ROOT, 'wrangler.toml');
	const migrations = path.join(ROOT, 'worker/migrations');
	const hash = createHash('sha256').update(readFileSync(configPath)).update(readFileSync(path.join(ROOT, 'node_modules/wrangler/package.json')));
	for (const name of readdirSync(migrations).sort()) hash.update(name).update(readFileSync(path.join(migrations, name)));
	const template = path.join(D1_TEMPLATES, hash.digest('hex').slice(0, 16));
	if (!existsSync(template)) {
		mkdirSync(D1_TEMPLATES, { recursive: true });
		const fresh = mkdtempSync(`${template}.`);
		try {
			wrangler(['d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', fresh, ...(config ? ['-c', config] : [])], env);
			// Whole or not at all: another process making the same template at once keeps its own.
			renameSync(fresh, template);
		} catch (error) {
			rmSync(fresh, { recursive: true, force: true });
			if (!existsSync(template)) throw error;
		}
	}
	cpSync(template, state, { recursive: true });
}

/** Builds the app when it is missing or older than its sources. */
function ensureBuilt() {
	if (existsSync(BUILT_APP)) {
		const builtAt = statSync(BUILT_APP).mtimeMs;
		const sources = [path.join(ROOT, 'src'), path.join(ROOT, 'static'), path.join(ROOT, 'svelte.config.js')];
		if (!sources.some((source) => newerThan(source, builtAt))) return;
	}
	const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
	if (build.status !== 0) throw new Error('`npm run build` failed; the local server needs the built app.');
}

/**
 * @param {string} file
 * @param {number} time
 * @returns {boolean}
 */
function newerThan(file, time) {
	if (!existsSync(file)) return false;
	const stat = statSync(file);
	if (!stat.isDirectory()) return stat.mtimeMs > time;
	return readdirSync(file).some((entry) => newerThan(path.join(file, entry), time));
}

/** @returns {Promise<number>} */
export function freePort() {
	return new Promise((resolve, reject) => {
		const probe = createServer();
		probe.once('error', reject);
		probe.listen(0, '127.0.0.1', () => {
			const address = probe.address();
			const port = typeof address === 'object' && address ? address.port : 0;
			probe.close(() => resolve(port));
		});
	});
}

/**
 * Probes `ready` until it returns true. Each probe is cut off at PROBE_TIMEOUT_MS (wrangler's proxy
 * holds a request while the Worker does not build, and fetch would wait minutes), and the wait ends
 * at once when wrangler exits or prints an error (a build that fails, a Worker that throws at
 * start-up: wrangler keeps watching the files, so it would otherwise wait for the timeout).
 * @param {string} baseUrl
 * @param {(baseUrl: string, signal: AbortSignal) => Promise<true | string>} ready
 * @param {() => boolean} exited
 * @param {() => boolean} printedError
 * @param {number} timeoutMs
 */
async function waitUntilReady(baseUrl, ready, exited, printedError, timeoutMs) {
	const deadline = Date.now() + timeoutMs;
	let last = 'no answer';
	/** Resolves with why to stop waiting, checked every 200 ms, or never. */
	const trouble = async (/** @type {AbortSignal} */ signal) => {
		while (!signal.aborted) {
			if (exited()) return `wrangler dev exited before it answered (last: ${last}).`;
			if (printedError()) return `wrangler dev reported an error before it answered (last: ${last}).`;
			if (Date.now() > deadline) return `wrangler dev did not answer ${baseUrl} within ${timeoutMs / 1000}s (last: ${last}).`;
			await new Promise((resolve) => setTimeout(resolve, 200));
		}
		return '';
	};
	for (;;) {
		const stop = new AbortController();
		const signal = AbortSignal.any([stop.signal, AbortSignal.timeout(Math.max(1, Math.min(PROBE_TIMEOUT_MS, deadline - Date.now())))]);
		const outcome = await Promise.race([
			ready(baseUrl, signal).then(
				(verdict) => ({ verdict }),
				(error) => ({ error: /** @type {Error} */ (error) })
			),
			trouble(stop.signal).then((reason) => ({ reason }))
		]);
		stop.abort();
		if ('reason' in outcome) throw new Error(outcome.reason);
		if ('verdict' in outcome && outcome.verdict === true) return;
		if ('verdict' in outcome) last = String(outcome.verdict);
		if ('error' in outcome) {
			if (outcome.error instanceof StartupFailure) throw outcome.error;
			last = outcome.error.message;
		}
		await new Promise((resolve) => setTimeout(resolve, 200));
	}
}

/**
 * The token the tests use must be the one the Worker checks, not a developer's .dev.vars.
 * @param {string} baseUrl
 * @param {string} token
 */
async function assertOurTokenIsInForce(baseUrl, token) {
	const wrong = await fetch(`${baseUrl}/api/integrations`, {
		headers: { authorization: `Bearer not-${token}` }
	});
	if (wrong.status !== 401) throw new Error(`A wrong admin token got HTTP ${wrong.status}, not 401.`);
	// The developer's own token (npm start writes it to .dev.vars) must not open this server.
	const devVars = path.join(ROOT, '.dev.vars');
	const developerToken = existsSync(devVars)
		? /^\s*ADMIN_TOKEN\s*=\s*"?([^"\r\n]*)"?\s*$/m.exec(readFileSync(devVars, 'utf8'))?.[1]
		: undefined;
	if (developerToken && developerToken !== token) {
		const developer = await fetch(`${baseUrl}/api/integrations`, {
			headers: { authorization: `Bearer ${developerToken}` }
		});
		if (developer.status !== 401) throw new Error('The ADMIN_TOKEN from .dev.vars opens the test server.');
	}
	const shell = await fetch(`${baseUrl}/`);
	if (!shell.ok || !(await shell.text()).includes('<html')) throw new Error('wrangler dev does not serve the app.');
}

/**
 * SIGTERM to the whole process group, then SIGKILL if it lingers.
 * @param {number | undefined} pid
 */
async function stopGroup(pid) {
	if (!pid) return;
	const alive = () => {
		try {
			process.kill(-pid, 0);
			return true;
		} catch {
			return false;
		}
	};
	try {
		process.kill(-pid, 'SIGTERM');
	} catch {
		return;
	}
	for (let i = 0; i < 50 && alive(); i++) await new Promise((resolve) => setTimeout(resolve, 100));
	if (alive()) {
		try {
			process.kill(-pid, 'SIGKILL');
		} catch {
			// Already gone.
		}
	}
}
