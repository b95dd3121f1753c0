// A throwaway local Mailgate for the browser tests and the benchmarks: the built app and the real
// Worker under `wrangler dev`, on a fresh local D1 (the real migrations) in a temporary directory,
// on a free port, with its own random ADMIN_TOKEN and SMTP_ENCRYPTION_KEY; and Debian's Chromium
// launched the same way by both.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BUILT_APP = path.join(ROOT, '.svelte-kit/cloudflare/index.html');
/** wrangler dev compiles the Worker and boots workerd; on a slow CI machine this takes a while. */
const STARTUP_TIMEOUT_MS = 120_000;
const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';

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
	const wrangler = (args) => {
		const run = spawnSync(npx, ['wrangler', ...args], { cwd: ROOT, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
		if (run.status !== 0) throw new Error(`\`wrangler ${args.join(' ')}\` failed:\n${run.stdout}\n${run.stderr}`);
		return run.stdout;
	};
	/** @param {string[]} args */
	const d1 = (args) => wrangler(['d1', 'execute', 'DB', '--local', '--persist-to', state, ...args, '--yes']);
	/** @type {number | null} */
	let seedMs = null;
	try {
		wrangler(['d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', state]);
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

	const port = await freePort();
	const inspectorPort = await freePort();
	const baseUrl = `http://127.0.0.1:${port}`;
	const logPath = path.join(dir, 'wrangler.log');
	const log = openSync(logPath, 'a');
	const server = spawn(
		npx,
		[
			'wrangler', 'dev',
			'--ip', '127.0.0.1',
			'--port', String(port),
			'--inspector-port', String(inspectorPort),
			'--persist-to', state,
			'--env-file', envFile,
			'--show-interactive-dev-session=false',
			'--live-reload=false'
		],
		// Its own process group, so stopping it stops wrangler and the workerd it starts.
		{ cwd: ROOT, env, detached: true, stdio: ['ignore', log, log] }
	);
	closeSync(log);

	const stop = async () => {
		await stopGroup(server.pid);
		rmSync(dir, { recursive: true, force: true });
	};

	try {
		await waitForApi(baseUrl, adminToken, () => server.exitCode !== null);
		await assertOurTokenIsInForce(baseUrl, adminToken);
	} catch (error) {
		const output = existsSync(logPath) ? readFileSync(logPath, 'utf8').slice(-4000) : '';
		await stop();
		throw new Error(`${/** @type {Error} */ (error).message}\n--- wrangler dev output (tail) ---\n${output}`);
	}
	return { baseUrl, adminToken, seedMs, stop };
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
 * @param {string} baseUrl
 * @param {string} token
 * @param {() => boolean} exited
 */
async function waitForApi(baseUrl, token, exited) {
	const deadline = Date.now() + STARTUP_TIMEOUT_MS;
	let last = 'no answer';
	while (Date.now() < deadline) {
		if (exited()) throw new Error('wrangler dev exited before it answered.');
		try {
			const response = await fetch(`${baseUrl}/api/integrations`, {
				headers: { authorization: `Bearer ${token}` }
			});
			if (response.ok) return;
			if (response.status === 401) {
				throw new Error('wrangler dev refused the test ADMIN_TOKEN: another value (a .dev.vars?) is in force.');
			}
			last = `HTTP ${response.status}: ${(await response.text()).slice(0, 200)}`;
		} catch (error) {
			const message = /** @type {Error} */ (error).message;
			if (message.startsWith('wrangler dev refused')) throw error;
			last = message;
		}
		await new Promise((resolve) => setTimeout(resolve, 300));
	}
	throw new Error(`wrangler dev did not serve /api within ${STARTUP_TIMEOUT_MS / 1000}s (last: ${last}).`);
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
