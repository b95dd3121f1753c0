/**
 * The sending service's pure policies as tables: which failures are temporary (retried by
 * themselves, SPEC §10), what a probe's verdict means for replies (SPEC §13), and the limits the
 * hints name. Then the sender's session handling against a recording transport: one login, one
 * session for several messages, a new one after a failure or after messagesPerSession, and the
 * provider asked at once when the server refused an OAuth token.
 */
import { describe, expect, it } from 'vitest';
import type { AuthResult } from '../../worker/inbound/authenticate';
import { judgeProbe } from '../../worker/flow/recognise';
import { classify, isTemporary, parseReply, type Failure } from '../../worker/smtp/classify';
import type { SmtpLogin } from '../../worker/send/credentials';
import { openSender } from '../../worker/send/mailbox-sender';
import { INTERACTIVE_TIMEOUTS, QUEUE_TIMEOUTS, stageLimitMs } from '../../worker/send/timeouts';
import { configAttempt, type SendAttempt, type Transport, type TransportSession } from '../../worker/send/transport';

const reply = (raw: string): Failure => ({ kind: 'reply', reply: parseReply(raw)! });

describe('isTemporary: retried by itself, or failed at once', () => {
	const cases: Array<[string, Failure, boolean, boolean]> = [
		['a timeout before the data', { kind: 'timeout' }, false, true],
		['a refused or dropped connection', { kind: 'socket', message: 'connection reset' }, false, true],
		['421 busy', reply('421 4.3.2 Service not available, too many connections'), false, true],
		['450 mailbox busy', reply('450 4.2.1 Mailbox temporarily unavailable'), false, true],
		['451 local error', reply('451 4.3.0 Temporary local problem'), false, true],
		['Gmail daily quota (5.4.5, a 5xx that is a rate limit)', reply('550 5.4.5 Daily user sending quota exceeded'), false, true],
		['a 5xx sending-rate refusal in words', reply('554 5.7.1 Too many messages sent, try later'), false, true],
		['550 unknown user', reply('550 5.1.1 User unknown'), false, false],
		['535 wrong password', reply('535 5.7.8 Username and Password not accepted'), false, false],
		['554 SendAsDenied', reply('554 5.2.252 SendAsDenied'), false, false],
		['no STARTTLS offered (settings)', { kind: 'no-starttls' }, false, false],
		['STARTTLS required (settings)', { kind: 'starttls-required' }, false, false],
		['no usable login method (settings)', { kind: 'no-auth-method', offered: ['cram-md5'] }, false, false],
		['a timeout after the data went out (may have arrived)', { kind: 'timeout' }, true, false],
		['a 4xx after the data went out', reply('451 4.3.0 Try again'), true, false]
	];
	it.each(cases)('%s', (_name, failure, dataSent, temporary) => {
		expect(isTemporary(failure, { dataSent })).toBe(temporary);
	});
});

describe('judgeProbe: what the verdict means for replies', () => {
	const cases: Array<[AuthResult, AuthResult, AuthResult, 'ok' | 'warn' | 'fail', RegExp]> = [
		['pass', 'pass', 'pass', 'ok', /forwarded ones included/],
		['pass', 'none', 'pass', 'ok', /on SPF alone .*sign replies with DKIM/],
		['fail', 'pass', 'pass', 'ok', /DMARC passes \(SPF fail, DKIM pass\)/],
		['fail', 'fail', 'fail', 'fail', /refuse replies or put them in spam/],
		['pass', 'pass', 'fail', 'fail', /Fix SPF or DKIM/],
		['pass', 'pass', 'none', 'warn', /publishes no DMARC policy/],
		['pass', 'none', 'temperror', 'warn', /could not be evaluated \(temperror/],
		['none', 'none', 'permerror', 'warn', /could not be evaluated \(permerror/]
	];
	it.each(cases)('SPF %s, DKIM %s, DMARC %s: %s', (spf, dkim, dmarc, result, says) => {
		const verdict = judgeProbe({ spf, dkim, dmarc }, 'acme.example');
		expect(verdict.result).toBe(result);
		expect(verdict.says).toMatch(says);
	});
});

describe('the limits the hints name are the limits the session waits', () => {
	it.each([
		['the test, connecting', INTERACTIVE_TIMEOUTS, 'connect', 10],
		['the test, the data (cut to its 14-second budget)', INTERACTIVE_TIMEOUTS, 'data', 14],
		['a reply, MAIL FROM', QUEUE_TIMEOUTS, 'mail', 30],
		['a reply, the data', QUEUE_TIMEOUTS, 'data', 60]
	] as const)('%s', (_name, timeouts, stage, seconds) => {
		expect(stageLimitMs(timeouts, stage)).toBe(seconds * 1000);
		const { hint } = classify({ stage, failure: { kind: 'timeout' }, encryption: 'starttls', port: 587, host: 'smtp.example.com', timeoutSeconds: stageLimitMs(timeouts, stage) / 1000 });
		expect(hint).toContain(`within ${seconds} seconds`);
	});
});

/** A transport that records what the sender asked of it; `script` says how each open goes. */
function recordingTransport(script: Array<SendAttempt | null> = []) {
	const calls: string[] = [];
	const transport: Transport = {
		async open() {
			const failure = script.shift() ?? null;
			calls.push(failure ? 'open:failed' : 'open');
			let open = failure === null;
			/** As smtp-transport: a transaction that did not end cleanly leaves RSET to say. */
			let unfinished = false;
			const session: TransportSession = {
				get isOpen() {
					return open;
				},
				transcript: [],
				steps: [],
				async reset() {
					if (open && unfinished) calls.push('reset');
					unfinished = false;
				},
				async send(message) {
					calls.push(`send:${message.recipients.join(',')}`);
					if (message.recipients.includes('refused@example.test')) {
						unfinished = true;
						return { ok: false, attempt: { ...configAttempt('refused'), category: 'rejected', temporary: false } };
					}
					if (message.recipients.includes('drop@example.test')) {
						open = false;
						return { ok: false, attempt: { ...configAttempt('dropped'), category: 'connection', temporary: true } };
					}
					return { ok: true, code: 250, serverMessage: '250 OK', accepted: message.recipients, refused: [], transcript: [] };
				},
				async close() {
					if (open) calls.push('close');
					open = false;
				}
			};
			return { session, failure: failure ? { attempt: failure, authRefused: failure.stage === 'auth' } : null };
		}
	};
	return { transport, calls };
}

const passwordLogin = (counter: { logins: number }) => async (): Promise<SmtpLogin> => {
	counter.logins++;
	return {
		ok: true,
		settings: { host: 'smtp.example.com', port: 587, username: 'desk@acme.example', encryption: 'starttls', credential: { kind: 'password', password: 'p' } },
		afterAuthRefused: async () => null
	};
};
const message = (to: string) => ({ from: 'desk@acme.example', recipients: [to], raw: 'Subject: x\r\n\r\nx' });

describe('the sender: one login, one session for several messages', () => {
	it('sends a batch over one session without RSET after clean transactions, and a new session only after a failure closed it', async () => {
		const counter = { logins: 0 };
		const { transport, calls } = recordingTransport();
		const sender = openSender({ login: passwordLogin(counter), timeouts: QUEUE_TIMEOUTS, allowPrivateHosts: false, transport });
		for (const to of ['a@example.test', 'b@example.test', 'drop@example.test', 'c@example.test']) await sender.send(message(to));
		await sender.close();
		expect(counter.logins).toBe(1);
		expect(calls).toEqual([
			'open', 'send:a@example.test', 'send:b@example.test', 'send:drop@example.test',
			'open', 'send:c@example.test', 'close'
		]);
	});

	it('says RSET once, only after a transaction that did not end cleanly, when the caller asks ready() before each send (the reply consumer does)', async () => {
		const { transport, calls } = recordingTransport();
		const sender = openSender({ login: passwordLogin({ logins: 0 }), timeouts: QUEUE_TIMEOUTS, allowPrivateHosts: false, transport });
		for (const to of ['a@example.test', 'refused@example.test', 'b@example.test', 'c@example.test']) {
			expect((await sender.ready()).ok).toBe(true);
			await sender.send(message(to));
		}
		await sender.close();
		// The refusal keeps the session (QUIT at the end, not a dropped connection).
		expect(calls).toEqual(['open', 'send:a@example.test', 'send:refused@example.test', 'reset', 'send:b@example.test', 'send:c@example.test', 'close']);
	});

	it('opens a new session after messagesPerSession messages', async () => {
		const { transport, calls } = recordingTransport();
		const sender = openSender({ login: passwordLogin({ logins: 0 }), timeouts: QUEUE_TIMEOUTS, allowPrivateHosts: false, transport, messagesPerSession: 2 });
		for (const to of ['a@example.test', 'b@example.test', 'c@example.test']) await sender.send(message(to));
		expect(calls).toEqual(['open', 'send:a@example.test', 'send:b@example.test', 'close', 'open', 'send:c@example.test']);
	});

	it('a login that cannot be made is the outcome of every send, with its reason, and nothing is opened', async () => {
		const { transport, calls } = recordingTransport();
		const login = async (): Promise<SmtpLogin> => ({
			ok: false,
			failure: { reason: 'not_connected', stage: 'auth', category: 'auth', hint: 'Sign in first.', temporary: false }
		});
		const sender = openSender({ login, timeouts: QUEUE_TIMEOUTS, allowPrivateHosts: false, transport });
		const outcome = await sender.send(message('a@example.test'));
		expect(outcome).toMatchObject({ ok: false, attempt: { stage: 'auth', category: 'auth', hint: 'Sign in first.', temporary: false, credential: 'not_connected', transcript: [] } });
		expect(calls).toEqual([]);
	});

	it('a refused OAuth login asks the provider at once: a withdrawn access replaces the server’s refusal (Reconnect), the server’s words kept', async () => {
		const refused: SendAttempt = { ...configAttempt('The server refused the OAuth sign-in.'), stage: 'auth', category: 'auth', code: 535, serverMessage: '535 5.7.3 Authentication unsuccessful' };
		const { transport } = recordingTransport([refused]);
		const login = async (): Promise<SmtpLogin> => ({
			ok: true,
			settings: { host: 'smtp.office365.com', port: 587, username: 'desk@acme.example', encryption: 'starttls', credential: { kind: 'oauth2', accessToken: 't' } },
			afterAuthRefused: async () => ({ reason: 'reconnect', stage: 'auth', category: 'auth', hint: 'Press Reconnect.', temporary: false })
		});
		const sender = openSender({ login, timeouts: QUEUE_TIMEOUTS, allowPrivateHosts: false, transport });
		expect(await sender.ready()).toMatchObject({ ok: false, attempt: { stage: 'auth', hint: 'Press Reconnect.', code: 535, serverMessage: '535 5.7.3 Authentication unsuccessful' } });
	});
});
