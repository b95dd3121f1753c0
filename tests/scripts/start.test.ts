// `npm start` creates .dev.vars or completes it with the keys it lacks, never touching the
// values a developer already set (SPEC §8).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
	SAMPLE_MESSAGE,
	completeDevVars,
	readVar,
	simulateInboundCommand,
	summariseMigrations,
	varArguments,
	wantsLocalOAuth
} from '../../scripts/start.mjs';

describe('completeDevVars', () => {
	it('creates every key from nothing, with random secrets of the right size', () => {
		const { text, added } = completeDevVars('');
		expect(added).toEqual(['ADMIN_TOKEN', 'SMTP_ENCRYPTION_KEY', 'ALLOW_PRIVATE_SMTP_HOSTS', 'ALLOW_PRIVATE_WEBHOOK_HOSTS']);
		expect(readVar(text, 'ALLOW_PRIVATE_WEBHOOK_HOSTS')).toBe('true');
		expect(Buffer.from(readVar(text, 'SMTP_ENCRYPTION_KEY') ?? '', 'base64')).toHaveLength(32);
		expect(readVar(text, 'ADMIN_TOKEN')).toMatch(/^[A-Za-z0-9_-]{32}$/);
		expect(readVar(text, 'ALLOW_PRIVATE_SMTP_HOSTS')).toBe('true');
		expect(readVar(completeDevVars('').text, 'ADMIN_TOKEN')).not.toBe(readVar(text, 'ADMIN_TOKEN'));
	});

	it('keeps existing values and comments, and adds only what is missing', () => {
		const before = '# mine\nADMIN_TOKEN=keep-me\nOTHER="x"';
		const { text, added } = completeDevVars(before);
		expect(added).toEqual(['SMTP_ENCRYPTION_KEY', 'ALLOW_PRIVATE_SMTP_HOSTS', 'ALLOW_PRIVATE_WEBHOOK_HOSTS']);
		expect(text.startsWith(`${before}\n`)).toBe(true);
		expect(readVar(text, 'ADMIN_TOKEN')).toBe('keep-me');
		expect(readVar(text, 'OTHER')).toBe('x');
	});

	it('changes nothing when every key is there', () => {
		const full = completeDevVars('').text;
		expect(completeDevVars(full)).toEqual({ text: full, added: [] });
	});
});

describe('npm start -- --oauth (SPEC §12)', () => {
	it('runs the OAuth stand-in when asked by flag or environment, and not otherwise', () => {
		expect(wantsLocalOAuth(['--oauth'], {})).toBe(true);
		expect(wantsLocalOAuth([], { MAILGATE_LOCAL_OAUTH: '1' })).toBe(true);
		expect(wantsLocalOAuth([], {})).toBe(false);
		expect(wantsLocalOAuth([], { MAILGATE_LOCAL_OAUTH: '0' })).toBe(false);
	});

	it('passes the stand-in settings as wrangler dev --var for this run only (never into .dev.vars)', () => {
		expect(varArguments({ OAUTH_MICROSOFT_TOKEN_URL: 'http://127.0.0.1:8790/microsoft/token' })).toEqual([
			'--var',
			'OAUTH_MICROSOFT_TOKEN_URL:http://127.0.0.1:8790/microsoft/token'
		]);
	});
});

describe('what npm start prints (issue 19)', () => {
	/** wrangler 4's output for a fresh database: the table again after each migration (cut to two). */
	const table = (rows: [string, string][]) =>
		[
			'┌──────────────────┬────────┐',
			'│ name             │ status │',
			...rows.flatMap(([name, status]) => ['├──────────────────┼────────┤', `│ ${name} │ ${status}     │`]),
			'└──────────────────┴────────┘'
		].join('\n');
	const freshRun = [
		' ⛅️ wrangler 4.86.0',
		'Migrations to be applied:',
		'┌──────────────────┐\n│ 0001_a.sql       │\n├──────────────────┤\n│ 0002_b.sql       │\n└──────────────────┘',
		'🚣 6 commands executed successfully.',
		table([['0001_a.sql', '✅'], ['0002_b.sql', '🕒️']]),
		'🚣 5 commands executed successfully.',
		table([['0001_a.sql', '✅'], ['0002_b.sql', '✅']])
	].join('\n');

	it('sums up the migrations in one line instead of a table per migration', () => {
		expect(summariseMigrations(freshRun)).toBe('Local D1: 2 migrations applied.');
		expect(summariseMigrations(`${freshRun.split('🚣 5')[0]}`)).toBe('Local D1: 1 migration applied.');
		expect(summariseMigrations(' ⛅️ wrangler 4.86.0\n✅ No migrations to apply!\n')).toBe(
			'Local D1 is up to date (no migrations to apply).'
		);
	});

	it('prints a simulate-inbound command whose envelope matches the sample message (From and To), and the README prints the same', () => {
		const command = simulateInboundCommand('http://127.0.0.1:8799');
		const url = new URL(/'([^']+)'/.exec(command)![1]!);
		expect(url.origin).toBe('http://127.0.0.1:8799');
		expect(command.endsWith(`--data-binary @${SAMPLE_MESSAGE}`)).toBe(true);
		const headers = readFileSync(SAMPLE_MESSAGE, 'utf8').split(/\r?\n\r?\n/)[0]!;
		const address = (name: string) => /<([^>]+)>|(\S+@\S+)/.exec(new RegExp(`^${name}:(.*)$`, 'm').exec(headers)![1]!)!.slice(1).find(Boolean);
		// An envelope sender other than the From makes the Worker take the message for a forward.
		expect(url.searchParams.get('from')).toBe(address('From'));
		expect(url.searchParams.get('to')).toBe(address('To'));
		expect(readFileSync('README.md', 'utf8')).toContain(simulateInboundCommand('http://127.0.0.1:8787'));
	});
});
