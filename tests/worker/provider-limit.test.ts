/** SPEC §15: provider limit answers, SMTP and API, as temporary pauses with the provider's time. */
import { describe, expect, it } from 'vitest';
import { isTemporaryReply, parseReply } from '../../worker/smtp/classify';
import { limitOfReply } from '../../worker/smtp/provider-limit';
import { judgeAnswer } from '../../worker/send/api-answers';

const context = { account: 'helpdesk@acme.example', refreshed: false };

describe('limitOfReply(): SPEC §15 list, whatever the first digit', () => {
	it.each([
		['432 4.3.2 Concurrent connections limit exceeded. Visit https://aka.ms/concurrent_sending for more information.', 'concurrency', 60],
		['432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded [Hostname=AM6PR04MB4023]', 'concurrency', 60],
		['554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; Failed to process message', 'daily', 3600],
		['550 5.4.5 Daily user sending limit exceeded. For more information on Gmail sending limits', 'daily', 3600],
		['421 4.7.0 Try again later, closing connection. (EHLO) - gsmtp', 'rate', 60],
		['450 4.2.1 The user you are trying to contact is receiving mail at a rate that prevents additional messages', 'rate', 60],
		['451 4.7.500 Server busy. Please try again later from [203.0.113.5]. (S77714)', 'rate', 60],
		['452 4.5.3 Your message has too many recipients. - gsmtp', 'rate', 60],
		['451 4.7.0 Temporary server error. Please try again later. PRX4 Submission rate limit exceeded', 'rate', 60],
		['421 4.7.0 Daily sending quota exceeded', 'daily', 3600]
	] as const)('%s', (raw, kind, seconds) => {
		const reply = parseReply(raw)!;
		const verdict = limitOfReply(reply);
		expect(verdict?.limit).toEqual({ kind, retryAfterSeconds: seconds });
		expect(verdict?.hint).toMatch(/leave by themselves/);
		expect(isTemporaryReply(reply)).toBe(true);
	});

	it.each([
		'454 4.7.0 TLS not available due to local problem',
		'454 4.7.0 Temporary authentication failure: generic failure',
		'421 4.3.2 Service shutting down, closing transmission channel',
		'550 5.1.1 The email account that you tried to reach does not exist',
		'552 5.3.4 Your message exceeded Google\'s message size limits',
		'554 5.2.252 SendAsDenied; support@acme.com not allowed to send as helpdesk@acme.com',
		'250 2.0.0 OK'
	])('is no limit: %s', (raw) => {
		expect(limitOfReply(parseReply(raw)!)).toBeNull();
	});

	it('keeps a 5xx that is not a limit permanent', () => {
		expect(isTemporaryReply(parseReply('554 5.2.252 SendAsDenied')!)).toBe(false);
	});
});

describe('judgeAnswer(): Graph and Gmail limits', () => {
	it('takes Retry-After as the wait when given', () => {
		const verdict = judgeAnswer('microsoft', { status: 429, code: 'ApplicationThrottled', retryAfterSeconds: 17 }, context);
		expect(verdict).toMatchObject({ temporary: true, retryAfterSeconds: 17, limit: { kind: 'rate', retryAfterSeconds: 17 } });
	});

	it('waits a minute for a rate and an hour for a daily quota without one', () => {
		expect(judgeAnswer('google', { status: 429 }, context).limit).toEqual({ kind: 'rate', retryAfterSeconds: 60 });
		expect(judgeAnswer('google', { status: 403, reason: 'userRateLimitExceeded' }, context).limit).toEqual({ kind: 'rate', retryAfterSeconds: 60 });
		expect(judgeAnswer('google', { status: 403, reason: 'dailyLimitExceeded' }, context).limit).toEqual({ kind: 'daily', retryAfterSeconds: 3600 });
	});

	it('is no limit for a refusal', () => {
		expect(judgeAnswer('google', { status: 403, reason: 'insufficientPermissions' }, context).limit).toBeUndefined();
		expect(judgeAnswer('microsoft', { status: 503 }, context).limit).toBeUndefined();
	});
});
