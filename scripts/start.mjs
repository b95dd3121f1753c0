#!/usr/bin/env node
// `npm start` (SPEC §8): complete .dev.vars, build the app, apply the D1 migrations to the local
// database, then serve app, API and email handler with `wrangler dev` and print the sign-in link.
// `npm start -- --oauth` (or MAILGATE_LOCAL_OAUTH=1) also runs a local stand-in for Microsoft's
// and Google's sign-in (SPEC §12) and send APIs (Microsoft Graph, the Gmail API: SPEC §14) and
// points the Worker at it, so Sign in with Microsoft 365 / Google can be clicked through, sending
// by the local SMTP server or through the stand-in's API, whose mail for a service address comes
// back to the Worker as Email Routing would bring it.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { startLocalOAuth } from './local-oauth.mjs';
import { LOCAL_SMTP_PASSWORD, startLocalSmtp } from './local-smtp.mjs';

const PORT = process.env.PORT || '8787';
const SMTP_PORT = Number(process.env.SMTP_PORT || '2525');
const OAUTH_PORT = Number(process.env.OAUTH_PORT || '8790');
const HOST = '127.0.0.1';
const DEV_VARS = '.dev.vars';
/**
 * The customer's message the printed command sends in (README, "Try it"), and its addresses: the
 * envelope sender must be the message's From, or the Worker takes it for a forward (wrangler also
 * warns), and the recipient is the service address the walkthrough's mailbox has (the sample's To).
 */
export const SAMPLE_MESSAGE = 'tests/fixtures/email/plain.eml';
export const SAMPLE_FROM = 'alice@customer.example';
export const SAMPLE_TO = 'support@help.acme.example';
const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';

/** The keys a local run needs, each with how to make a value when .dev.vars lacks it. */
const REQUIRED = {
	ADMIN_TOKEN: () => randomBytes(24).toString('base64url'),
	SMTP_ENCRYPTION_KEY: () => randomBytes(32).toString('base64'),
	// Lets the SMTP test reach servers on this machine; never set in production.
	ALLOW_PRIVATE_SMTP_HOSTS: () => 'true',
	// Lets webhooks reach a help desk on this machine (http://127.0.0.1:…); never set in production.
	ALLOW_PRIVATE_WEBHOOK_HOSTS: () => 'true'
};

/**
 * @param {string} text the current .dev.vars ('' when there is none)
 * @returns {{ text: string, added: string[] }}
 */
export function completeDevVars(text) {
	const present = new Set(
		text
			.split(/\r?\n/)
			.map((/** @type {string} */ line) => /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=/.exec(line)?.[1])
			.filter(Boolean)
	);
	const missing = Object.entries(REQUIRED).filter(([key]) => !present.has(key));
	if (missing.length === 0) return { text, added: [] };
	const base = text === '' || text.endsWith('\n') ? text : `${text}\n`;
	const lines = missing.map(([key, make]) => `${key}=${make()}\n`).join('');
	return { text: `${base}${lines}`, added: missing.map(([key]) => key) };
}

/**
 * @param {string} text
 * @param {string} key
 * @returns {string | undefined}
 */
export function readVar(text, key) {
	for (const line of text.split(/\r?\n/)) {
		const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
		if (match && match[1] === key) return (match[2] ?? '').trim().replace(/^"(.*)"$/, '$1');
	}
	return undefined;
}

/**
 * Whether to run the local OAuth stand-in: `--oauth` on the command line or MAILGATE_LOCAL_OAUTH=1.
 * @param {string[]} argv
 * @param {Record<string, string | undefined>} env
 */
export function wantsLocalOAuth(argv, env) {
	return argv.includes('--oauth') || /^(1|true|yes)$/i.test(env.MAILGATE_LOCAL_OAUTH ?? '');
}

/**
 * `wrangler dev --var NAME:VALUE` arguments for these Worker settings: they apply to this run
 * only and are never written to .dev.vars, so real OAuth settings there stay as they are.
 * @param {Record<string, string>} vars
 */
export function varArguments(vars) {
	return Object.entries(vars).flatMap(([name, value]) => ['--var', `${name}:${value}`]);
}

/**
 * The one command that delivers the sample customer message to a running `npm start`, as Email
 * Routing would hand it to the Worker.
 * @param {string} origin e.g. http://127.0.0.1:8787
 */
export function simulateInboundCommand(origin) {
	return `curl -X POST '${origin}/cdn-cgi/handler/email?from=${SAMPLE_FROM}&to=${SAMPLE_TO}' --data-binary @${SAMPLE_MESSAGE}`;
}

/**
 * What `wrangler d1 migrations apply` did, in one line. It reprints its whole table of
 * migrations after each one it applies (about 250 lines for a fresh database); the last table
 * marks each applied migration ✅.
 * @param {string} output its stdout
 * @returns {string}
 */
export function summariseMigrations(output) {
	if (/No migrations to apply/i.test(output)) return 'Local D1 is up to date (no migrations to apply).';
	const lastTable = output.slice(output.lastIndexOf('┌'));
	const applied = lastTable.split(/\r?\n/).filter((line) => /\.sql\s*│\s*✅/.test(line)).length;
	return `Local D1: ${applied} ${applied === 1 ? 'migration' : 'migrations'} applied.`;
}

/**
 * Runs a step quietly: its output (hundreds of lines for the build and the migrations) is shown
 * only when it fails, so the sign-in link and the commands to try stay in view.
 * @param {string} command
 * @param {string[]} args
 * @returns {string} its stdout
 */
function runQuietly(command, args) {
	const result = spawnSync(command, args, {
		encoding: 'utf8',
		env: { ...process.env, CI: 'true', NO_COLOR: '1', WRANGLER_SEND_METRICS: 'false' },
		maxBuffer: 64 * 1024 * 1024
	});
	if (result.status !== 0) {
		process.stdout.write(result.stdout ?? '');
		process.stderr.write(result.stderr ?? '');
		console.error(`\n✗ ${command} ${args.join(' ')} failed (exit ${result.status ?? result.error?.message}).`);
		process.exit(result.status ?? 1);
	}
	return result.stdout;
}

/**
 * @param {string} url
 * @param {import('node:child_process').ChildProcess} child
 */
async function waitUntilServing(url, child) {
	for (let i = 0; i < 600 && child.exitCode === null; i++) {
		try {
			await fetch(url);
			return true;
		} catch {
			await new Promise((resolve) => setTimeout(resolve, 200));
		}
	}
	return false;
}

async function main() {
	const before = existsSync(DEV_VARS) ? readFileSync(DEV_VARS, 'utf8') : '';
	const { text, added } = completeDevVars(before);
	if (added.length > 0) {
		writeFileSync(DEV_VARS, text, { mode: 0o600 });
		console.log(`• ${existsSync(DEV_VARS) && before ? 'Completed' : 'Created'} ${DEV_VARS} with ${added.join(', ')}`);
	}
	const token = readVar(text, 'ADMIN_TOKEN');

	console.log('• Building the app…');
	runQuietly('npm', ['run', 'build', '--silent']);
	const migrations = runQuietly(npx, ['wrangler', 'd1', 'migrations', 'apply', 'DB', '--local']);
	console.log(`• ${summariseMigrations(migrations)}`);

	// The local stand-ins play Cloudflare's MX too: mail for a service address goes on to wrangler dev (SPEC §13).
	const relay = { origin: `http://${HOST}:${PORT}`, adminToken: token ?? '' };
	let oauth = null;
	if (wantsLocalOAuth(process.argv.slice(2), process.env)) {
		try {
			oauth = await startLocalOAuth({ port: OAUTH_PORT, log: console.log, relay });
		} catch (error) {
			console.log(`• Local OAuth stand-in not started (port ${OAUTH_PORT}: ${/** @type {Error} */ (error).message}); set OAUTH_PORT to use another port.`);
		}
	}

	let smtp = null;
	try {
		smtp = await startLocalSmtp({ port: SMTP_PORT, relay, oauth: oauth ?? undefined });
	} catch (error) {
		console.log(`• Local SMTP server not started (port ${SMTP_PORT}: ${/** @type {Error} */ (error).message}); set SMTP_PORT to use another port.`);
	}

	console.log(`• Starting wrangler dev on http://${HOST}:${PORT} …`);
	const vars = oauth ? varArguments(oauth.workerVars()) : [];
	const child = spawn(npx, ['wrangler', 'dev', '--ip', HOST, '--port', PORT, ...vars], { stdio: 'inherit' });
	for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM'])) process.on(signal, () => child.kill(signal));
	child.on('exit', (code) => process.exit(code ?? 0));

	if (await waitUntilServing(`http://${HOST}:${PORT}/`, child)) {
		const link = `http://${HOST}:${PORT}/login#token=${encodeURIComponent(token ?? '')}`;
		console.log(`\n  Mailgate is running. Sign in by opening:\n\n    ${link}\n`);
		console.log(`  Send a customer's message in (to a mailbox with the service address ${SAMPLE_TO}; README, "Try it"):`);
		console.log(`    ${simulateInboundCommand(`http://${HOST}:${PORT}`)}\n`);
		if (smtp) {
			console.log('  Try the SMTP sending test against the local test server:');
			console.log(`    Server address ${HOST}   Port ${smtp.port}   Encryption None   Account (any)   Password ${LOCAL_SMTP_PASSWORD}`);
			console.log('  With those settings, Check mail flow on the mailbox page makes the whole round trip here: the local');
			console.log('  server hands what it receives for a service address to the Worker, as Email Routing would.\n');
		}
		if (oauth) {
			console.log(`  Sign in with Microsoft 365 / Google against the local OAuth stand-in (${oauth.origin}): choose Microsoft 365 or`);
			console.log('  Google as Sign-in method, then how mail leaves:');
			console.log('    Send through: Microsoft Graph API / Gmail API: no server to set; the stand-in takes the message as');
			console.log('      the provider would, and what is for a service address comes back here, so replies and Check mail');
			console.log('      flow make the round trip through "Graph" / "Gmail".');
			if (smtp) console.log(`    Send through: SMTP server: Server address ${HOST}, Port ${smtp.port}, Encryption None.`);
			console.log('  Enter any Account and press Sign in: the stand-in signs you in as the Account at once. Revoke it to');
			console.log('  see Reconnect:');
			console.log(`    curl -X POST ${oauth.origin}/__control -H 'content-type: application/json' -d '{"revoke":"<the Account>"}'\n`);
		} else {
			console.log('  To try Sign in with Microsoft 365 / Google here, run `npm start -- --oauth`.\n');
		}
	}
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
