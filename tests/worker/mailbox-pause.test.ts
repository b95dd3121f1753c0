/**
 * SPEC §15: a provider's limit answer defers the reply until the provider's time and pauses the
 * mailbox; its other replies wait untried and leave after the pause. Through the real API, queue
 * and consumer, to the `scripted` smtp-server peer on loopback (tests/worker/smtp-servers.ts),
 * which answers what each test scripts for its account. And `smtp.limits` through the API.
 */
import { createMessageBatch, env } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import type { Mailbox } from '../../src/lib/schema/mailbox';
import type { OutboundItem } from '../../src/lib/schema/outbound';
import { consumeOutbound } from '../../worker/outbound/consumer';
import { servicesFrom } from '../../worker/services';
import { call, createIntegration, mailboxInput, unique } from './helpers';

/** The scripted peer's answer at one step (tests/worker/smtp-servers.ts, outside workerd). */
interface ScriptedAnswer {
	at: 'auth' | 'mail' | 'rcpt' | 'data';
	code: number;
	text: string;
}

const ports = JSON.parse(env.SMTP_TEST_PORTS) as Record<string, number>;
const PASSWORD = 'Corr3ct-h0rse-battery';

vi.setConfig({ testTimeout: 40_000 });

/** A mailbox on the scripted peer with an account of its own, and that account's script. */
async function scriptedMailbox(script: ScriptedAnswer[]): Promise<Mailbox> {
	const account = `${unique('desk')}@acme.test`;
	const put = await fetch(`http://127.0.0.1:${ports.control}/scripted/${encodeURIComponent(account)}`, { method: 'PUT', body: JSON.stringify(script) });
	expect(put.status).toBe(204);
	const integration = await createIntegration();
	const answer = await call<Mailbox>('POST', '/api/mailboxes', {
		body: mailboxInput(integration.id, { smtp: { host: '127.0.0.1', port: ports.scripted, username: account, password: PASSWORD, encryption: 'none' } })
	});
	expect(answer.status, answer.text).toBe(201);
	return answer.body;
}

async function post(mailboxId: string, subject: string): Promise<OutboundItem> {
	const answer = await call<OutboundItem>('POST', `/api/mailboxes/${mailboxId}/outbound`, { body: { to: ['carol@customer.example'], subject, text: 'Hello.' } });
	expect(answer.status, answer.text).toBe(202);
	return answer.body;
}

async function item(id: string): Promise<OutboundItem> {
	return (await call<OutboundItem>('GET', `/api/outbound/${id}`)).body;
}

async function waitFor(id: string, done: (item: OutboundItem) => boolean, timeoutMs = 20_000): Promise<OutboundItem> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const current = await item(id);
		if (done(current)) return current;
		if (Date.now() > deadline) throw new Error(`outbound ${id} still ${current.status}: ${JSON.stringify(current.attempts)}`);
		await new Promise((resolve) => setTimeout(resolve, 200));
	}
}

/** Hands ids to the real consumer as the queue would, at `now` (after the pause, in these tests). */
async function consume(ids: string[], now: Date): Promise<void> {
	const batch = createMessageBatch<{ id: string }>('mailgate-outbound', ids.map((id, i) => ({ id: `later-${i}-${id}`, timestamp: now, attempts: 1, body: { id } })));
	const messages = batch.messages.map((message) => ({ body: message.body, attempts: message.attempts, ack: () => {}, retry: () => {} }));
	await consumeOutbound(messages, servicesFrom(env), { now: () => now });
}

const MINUTE = 60;
const HOUR = 3600;

describe('SPEC §15: each limit answer defers the reply and pauses the mailbox', () => {
	const answers: Array<[ScriptedAnswer, 'concurrency' | 'rate' | 'daily', number]> = [
		[{ at: 'auth', code: 432, text: '4.3.2 Concurrent connections limit exceeded. Visit https://aka.ms/concurrent_sending for more information.' }, 'concurrency', MINUTE],
		[{ at: 'data', code: 432, text: '4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded [Hostname=AM6PR04MB4023]' }, 'concurrency', MINUTE],
		[{ at: 'data', code: 554, text: '5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; Failed to process message due to a permanent exception' }, 'daily', HOUR],
		[{ at: 'mail', code: 550, text: '5.4.5 Daily user sending limit exceeded. For more information on Gmail sending limits go to https://support.google.com/a/answer/166852 - gsmtp' }, 'daily', HOUR],
		[{ at: 'mail', code: 421, text: '4.7.0 Try again later, closing connection. (MAIL) - gsmtp' }, 'rate', MINUTE],
		[{ at: 'rcpt', code: 450, text: '4.2.1 The user you are trying to contact is receiving mail at a rate that prevents additional messages from being delivered' }, 'rate', MINUTE],
		[{ at: 'mail', code: 451, text: '4.7.500 Server busy. Please try again later from [203.0.113.5]. (S77714)' }, 'rate', MINUTE],
		[{ at: 'rcpt', code: 452, text: '4.5.3 Your message has too many recipients. - gsmtp' }, 'rate', MINUTE]
	];

	it('for every answer in the list, whatever its first digit: deferred, nextAttemptAt per §15, the mailbox paused with the words', async () => {
		await Promise.all(
			answers.map(async ([answer, kind, seconds]) => {
				const mailbox = await scriptedMailbox([answer]);
				const reply = await post(mailbox.id, unique(`Limit ${answer.code}`));
				const deferred = await waitFor(reply.id, (i) => !['queued', 'sending'].includes(i.status));
				const context = `${answer.code} ${answer.text}: ${JSON.stringify(deferred.attempts)}`;
				expect(deferred.status, context).toBe('deferred');
				const [attempt] = deferred.attempts;
				expect(attempt, context).toMatchObject({ ok: false, temporary: true, code: answer.code, limit: { kind, retryAfterSeconds: seconds } });
				const startedAt = Date.parse(attempt!.at);
				// No earlier than the provider's time (the retry table's first minute, or the quota's hour).
				expect(Date.parse(deferred.nextAttemptAt!) - startedAt, context).toBe(Math.max(seconds, 60) * 1000);
				const paused = (await call<Mailbox>('GET', `/api/mailboxes/${mailbox.id}`)).body;
				expect(paused.smtp.pausedUntil, context).toBe(new Date(startedAt + seconds * 1000).toISOString());
				expect(paused.smtp.pauseReason, context).toContain(answer.text.slice(0, 30));
				// Pausing is not an edit.
				expect(paused.version).toBe(mailbox.version);
			})
		);
	});
});

describe('SPEC §15: the sending test meets a limit too', () => {
	it('with the saved settings it pauses the mailbox with the words; with settings typed into the form it does not', async () => {
		const answer: ScriptedAnswer = { at: 'mail', code: 451, text: '4.7.500 Server busy. Please try again later from [203.0.113.5]. (S77714)' };
		const mailbox = await scriptedMailbox([answer, answer]);
		const typed = await call('POST', '/api/smtp-test', {
			body: { mailboxId: mailbox.id, smtp: { host: '127.0.0.1', port: ports.scripted, username: mailbox.smtp.username, password: PASSWORD, encryption: 'none' }, to: 'someone@customer.example' }
		});
		expect(typed.status, typed.text).toBe(200);
		expect(typed.body).toMatchObject({ ok: false, limit: { kind: 'rate' } });
		expect((await call<Mailbox>('GET', `/api/mailboxes/${mailbox.id}`)).body.smtp.pausedUntil).toBeNull();
		const started = Date.now();
		const saved = await call('POST', `/api/mailboxes/${mailbox.id}/smtp-test`, { body: { to: 'someone@customer.example' } });
		expect(saved.status, saved.text).toBe(200);
		expect(saved.body).toMatchObject({ ok: false, code: 451, limit: { kind: 'rate', retryAfterSeconds: MINUTE } });
		const paused = (await call<Mailbox>('GET', `/api/mailboxes/${mailbox.id}`)).body;
		expect(Date.parse(paused.smtp.pausedUntil!)).toBeGreaterThanOrEqual(started + MINUTE * 1000 - 1_000);
		expect(paused.smtp.pauseReason).toContain('4.7.500 Server busy');
		expect(paused.version).toBe(mailbox.version);
	});
});

describe('SPEC §15: a paused mailbox', () => {
	it('keeps its other replies waiting untried, counts the deferral apart from failures, and sends them all after the pause', async () => {
		const mailbox = await scriptedMailbox([{ at: 'data', code: 554, text: '5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; Failed to process message' }]);
		const first = await post(mailbox.id, unique('First'));
		const deferred = await waitFor(first.id, (i) => i.status === 'deferred');
		// Claimed while the mailbox is paused, later replies wait: queued, no attempt.
		const later = [await post(mailbox.id, unique('Second')), await post(mailbox.id, unique('Third'))];
		const paused = (await call<Mailbox>('GET', `/api/mailboxes/${mailbox.id}`)).body;
		const until = Date.parse(paused.smtp.pausedUntil!);
		expect(until).toBe(Date.parse(deferred.attempts[0]!.at) + HOUR * 1000);
		for (const reply of later) {
			// The queue brings each within its batch timeout; it is held, not tried.
			await vi.waitFor(async () => expect((await call('GET', `/api/outbound/${reply.id}`)).body.nextAttemptAt).not.toBeNull(), { timeout: 15_000, interval: 200 });
			const held = await item(reply.id);
			expect(held.status).toBe('queued');
			expect(held.attempts).toHaveLength(0);
			expect(Date.parse(held.nextAttemptAt!)).toBe(until);
		}

		const health = await call('GET', `/api/mailbox-health?mailboxId=${mailbox.id}`);
		expect(health.body.items[0].outbound.last24h).toMatchObject({ limitDeferred: 1, failed: 0, sent: 0 });

		// After the pause, all three leave (the deferred one and the two held), each once, with no extra attempt.
		await consume([first.id, ...later.map((reply) => reply.id)], new Date(until + 1_000));
		const sent = await Promise.all([first, ...later].map((reply) => item(reply.id)));
		expect(sent.map((reply) => reply.status)).toEqual(['sent', 'sent', 'sent']);
		expect(sent.map((reply) => reply.attempts.length)).toEqual([2, 1, 1]);
		const state = (await (await fetch(`http://127.0.0.1:${ports.control}/scripted/${encodeURIComponent(mailbox.smtp.username)}`)).json()) as { accepted: number };
		expect(state.accepted).toBe(3);
		const after = (await call<Mailbox>('GET', `/api/mailboxes/${mailbox.id}`)).body;
		expect(after.version).toBe(mailbox.version);
		expect(after.smtp.pauseReason).toContain('SubmissionQuotaExceededException');
	});

	it('is resumed by Send now (the admin asks for it now)', async () => {
		const mailbox = await scriptedMailbox([{ at: 'mail', code: 451, text: '4.7.500 Server busy. Please try again later from [203.0.113.5]. (S77714)' }]);
		const reply = await post(mailbox.id, unique('Pushed'));
		await waitFor(reply.id, (i) => i.status === 'deferred');
		expect((await call<Mailbox>('GET', `/api/mailboxes/${mailbox.id}`)).body.smtp.pausedUntil).not.toBeNull();
		const pushed = await call('POST', `/api/outbound/${reply.id}/retry`);
		expect(pushed.status, pushed.text).toBe(202);
		const sent = await waitFor(reply.id, (i) => i.status === 'sent');
		expect(sent.attempts.map((a) => a.ok)).toEqual([false, true]);
	});
});

describe('SPEC §15: limit answers do not use up the retry table', () => {
	it('a daily quota is tried an hour at a time past the table’s seven attempts, and given up only after two days', async () => {
		const quota = { at: 'data', code: 554, text: '5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; Failed to process message' } as const;
		const mailbox = await scriptedMailbox(Array.from({ length: 10 }, () => quota));
		const reply = await post(mailbox.id, unique('Quota all day'));
		let current = await waitFor(reply.id, (i) => i.status === 'deferred');
		for (let round = 2; round <= 9; round++) {
			await consume([reply.id], new Date(Date.parse(current.nextAttemptAt!) + 1_000));
			current = await item(reply.id);
			expect(current.status, `attempt ${round}`).toBe('deferred');
			expect(current.attempts).toHaveLength(round);
			// The first delay of the table, or the provider's hour: never the table's 3 or 6 hours.
			expect(Date.parse(current.nextAttemptAt!) - Date.parse(current.attempts.at(-1)!.at)).toBe(HOUR * 1000);
		}
		await consume([reply.id], new Date(Date.parse(reply.createdAt) + 49 * HOUR * 1000));
		current = await item(reply.id);
		expect(current.status).toBe('failed');
		expect(current.attempts.at(-1)!.hint).toMatch(/Gave up: the provider's limit held this reply for more than two days\.$/);
	});
});

describe('smtp.limits (SPEC §15)', () => {
	it('stores the overrides, goes back to the provider defaults on null or {}, and refuses out-of-range values by field', async () => {
		const integration = await createIntegration();
		const input = mailboxInput(integration.id, { smtp: { limits: { concurrent: 3, perMinute: 30 } } });
		const created = await call<Mailbox>('POST', '/api/mailboxes', { body: input });
		expect(created.status, created.text).toBe(201);
		expect(created.body.smtp).toMatchObject({ limits: { concurrent: 3, perMinute: 30 }, pausedUntil: null, pauseReason: null });

		const patched = await call<Mailbox>('PATCH', `/api/mailboxes/${created.body.id}`, { body: { version: created.body.version, smtp: { limits: { perMinute: 12 } } } });
		expect(patched.status, patched.text).toBe(200);
		expect(patched.body.smtp.limits).toEqual({ perMinute: 12 });
		expect(patched.body.version).toBe(created.body.version + 1);
		// Left out, the overrides stay.
		const renamed = await call<Mailbox>('PATCH', `/api/mailboxes/${created.body.id}`, { body: { version: patched.body.version, name: 'Renamed' } });
		expect(renamed.body.smtp.limits).toEqual({ perMinute: 12 });
		const cleared = await call<Mailbox>('PATCH', `/api/mailboxes/${created.body.id}`, { body: { version: renamed.body.version, smtp: { limits: {} } } });
		expect(cleared.body.smtp.limits).toBeNull();

		for (const [limits, field, words] of [
			[{ concurrent: 0 }, 'smtp.limits.concurrent', 'Concurrent sessions is a whole number from 1 to 10'],
			[{ concurrent: 11 }, 'smtp.limits.concurrent', 'Concurrent sessions is a whole number from 1 to 10'],
			[{ perMinute: 601 }, 'smtp.limits.perMinute', 'Messages a minute is a whole number from 1 to 600'],
			[{ perMinute: 2.5 }, 'smtp.limits.perMinute', 'Messages a minute is a whole number from 1 to 600'],
			[{ perMinute: 'lots' }, 'smtp.limits.perMinute', 'Messages a minute is a whole number from 1 to 600'],
			['fast', 'smtp.limits', 'Sending limits are concurrent sessions and messages a minute']
		] as const) {
			const refused = await call('PATCH', `/api/mailboxes/${created.body.id}`, { body: { version: cleared.body.version, smtp: { limits } } });
			expect(refused.status, refused.text).toBe(422);
			expect(refused.body.error.fields[field]).toBe(words);
		}
	});
});
