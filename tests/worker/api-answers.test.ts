/**
 * The pure parts of SPEC §14's answers: Retry-After read in both of RFC 9110's forms and bounded,
 * what goes to the API besides the stored message (a Bcc header, nothing forged), and a retry that
 * is never earlier than the provider asked while the schedule's later time still wins.
 */
import { describe, expect, it } from 'vitest';
import { judgeAnswer, MAX_RETRY_AFTER_SECONDS, parseRetryAfter } from '../../worker/send/api-answers';
import { apiMime, apiRequest } from '../../worker/send/api-request';
import { base64ToText } from '../../worker/mail/base64';
import { decideSettlement, REPLY_RETRY_DELAYS_SECONDS } from '../../worker/jobs/schedule';

const NOW = Date.parse('2026-12-07T12:00:00Z');

describe('Retry-After (RFC 9110 §10.2.3)', () => {
	it.each([
		['120', 120],
		['0', 0],
		['  30 ', 30],
		['Mon, 07 Dec 2026 12:05:00 GMT', 300],
		['Mon, 07 Dec 2026 11:00:00 GMT', 0],
		['99999999', MAX_RETRY_AFTER_SECONDS],
		['Tue, 08 Dec 2026 12:00:00 GMT', MAX_RETRY_AFTER_SECONDS]
	])('%j is %d seconds', (value, seconds) => {
		expect(parseRetryAfter(value, NOW)).toBe(seconds);
	});

	it.each([null, '', '-5', '1.5', 'soon', 'x'.repeat(100), '12345678901'])('%j is no Retry-After', (value) => {
		expect(parseRetryAfter(value, NOW)).toBeUndefined();
	});
});

describe('what goes to the API', () => {
	const raw = 'From: a@b.example\r\nSubject: hi\r\n\r\nbody\r\n';
	it('a Bcc header when the reply has Bcc recipients; nothing else changes', () => {
		expect(apiMime(raw, [])).toBe(raw);
		expect(apiMime(raw, ['x@y.example', 'z@y.example'])).toBe(`Bcc: x@y.example, z@y.example\r\n${raw}`);
	});
	it('an address that could forge a header or another recipient is left out', () => {
		expect(apiMime(raw, ['x@y.example\r\nX-Evil: 1', 'a, b@c.example', '"q"@d.example', 'ok@e.example'])).toBe(`Bcc: ok@e.example\r\n${raw}`);
	});
	it('Graph gets base64 MIME as text/plain at the account; Gmail base64url in { raw } at me', () => {
		const bytes = new TextEncoder().encode(raw);
		const graph = apiRequest({ provider: 'microsoft', apiUrl: 'https://graph.microsoft.us/', account: 'desk@acme.example' }, bytes);
		expect(graph).toMatchObject({ url: 'https://graph.microsoft.us/v1.0/users/desk%40acme.example/sendMail', contentType: 'text/plain' });
		expect(base64ToText(graph.body)).toBe(raw);
		const gmail = apiRequest({ provider: 'google', apiUrl: 'https://gmail.googleapis.com', account: 'desk@acme.example' }, bytes);
		expect(gmail.url).toBe('https://gmail.googleapis.com/gmail/v1/users/me/messages/send');
		const { raw: encoded } = JSON.parse(gmail.body) as { raw: string };
		expect(encoded).not.toMatch(/[+/=]/);
		expect(base64ToText(encoded.replace(/-/g, '+').replace(/_/g, '/'))).toBe(raw);
	});
});

describe('an answer the table does not name', () => {
	it('is refused for good, with the status and the provider\'s words', () => {
		const verdict = judgeAnswer('google', { status: 409, code: 'ABORTED', message: 'Conflict' }, { account: 'a@b.example', refreshed: false });
		expect(verdict).toMatchObject({ category: 'rejected', temporary: false });
		expect(verdict.hint).toContain('HTTP 409 (ABORTED: Conflict)');
	});
});

describe('a retry honours Retry-After', () => {
	const startedAt = new Date(NOW);
	const first = REPLY_RETRY_DELAYS_SECONDS[0] * 1000;
	it.each([
		['later than the schedule: the provider\'s time', NOW + 7200_000, NOW + 7200_000],
		['earlier than the schedule: the schedule\'s time', NOW + 10_000, NOW + first],
		['none: the schedule\'s time', null, NOW + first]
	])('%s', (_name, notBefore, expected) => {
		const settlement = decideSettlement({ verdict: 'temporary', attemptsSoFar: 1, startedAt, delays: REPLY_RETRY_DELAYS_SECONDS, notBefore: notBefore === null ? null : new Date(notBefore) });
		expect(settlement).toEqual({ kind: 'retry', at: new Date(expected) });
	});
	it('the schedule used up still gives up', () => {
		const settlement = decideSettlement({ verdict: 'temporary', attemptsSoFar: REPLY_RETRY_DELAYS_SECONDS.length + 1, startedAt, delays: REPLY_RETRY_DELAYS_SECONDS, notBefore: new Date(NOW + 60_000) });
		expect(settlement.kind).toBe('give-up');
	});
});
