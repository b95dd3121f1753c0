// `npm start` creates .dev.vars or completes it with the keys it lacks, never touching the
// values a developer already set (SPEC §8).
import { describe, expect, it } from 'vitest';
import { completeDevVars, readVar, varArguments, wantsLocalOAuth } from '../../scripts/start.mjs';

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
