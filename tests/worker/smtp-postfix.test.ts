/**
 * Issue 22 against a real Postfix on loopback port 2525, configured by scripts/postfix-loopback.sh
 * as strictly as the servers replies meet (a fully qualified EHLO name, a 100 kB SIZE, RFC 2920
 * pipelining and CRLF line ends enforced). Where that Postfix is not running the tests skip
 * themselves: the smtp-server peers of smtp-citizen.test.ts prove the same behaviour everywhere.
 */
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { composeMessage } from '../../worker/mail/compose';
import { openSender } from '../../worker/send/mailbox-sender';
import { QUEUE_TIMEOUTS } from '../../worker/send/timeouts';
import { messageSize } from '../../worker/smtp/message-size';
import { probeTcp } from '../../worker/smtp/staged-session';
import { unique } from './helpers';

const PORT = 2525;
const FROM = 'support@acme.test';

vi.setConfig({ testTimeout: 30_000 });

const senderAs = (ehloName: string) =>
	openSender({
		login: async () => ({
			ok: true,
			settings: { host: '127.0.0.1', port: PORT, username: FROM, encryption: 'none', credential: { kind: 'password', password: 'unused: Postfix here asks for no login' } },
			afterAuthRefused: async () => null
		}),
		timeouts: QUEUE_TIMEOUTS,
		allowPrivateHosts: true,
		ehloName
	});

const compose = (to: string, text: string) =>
	composeMessage({
		from: { name: 'Acme Support', address: FROM },
		to: [to],
		cc: [],
		subject: 'Re: Order',
		text,
		attachments: [],
		messageId: `${unique('postfix')}@acme.test`,
		inReplyTo: null,
		references: [],
		date: new Date()
	}).raw;

let running = false;
beforeAll(async () => {
	running = (await probeTcp('127.0.0.1', PORT, 2_000)) === 'plain-greeting';
});

describe('a real Postfix on loopback (bash scripts/postfix-loopback.sh; skipped without it)', () => {
	it('refuses the bare address worker-mailer greeted with (504 5.5.2) and takes the service address\'s domain', async (context) => {
		if (!running) context.skip();
		const to = `${unique('helo')}@loopback.test`;
		const bare = senderAs('127.0.0.1');
		const refused = await bare.send({ from: FROM, recipients: [to], raw: compose(to, 'Hello') });
		await bare.close();
		// Postfix delays the HELO restriction to RCPT TO (smtpd_delay_reject).
		expect(refused).toMatchObject({ ok: false, attempt: { stage: 'rcpt', code: 504, enhancedCode: '5.5.2' } });
		const named = senderAs('acme.test');
		expect(await named.send({ from: FROM, recipients: [to], raw: compose(to, 'Hello') })).toMatchObject({ ok: true, code: 250 });
		await named.close();
	});

	it('takes several messages pipelined on one session, without RSET, text with bare LFs as CRLF', async (context) => {
		if (!running) context.skip();
		const sender = senderAs('acme.test');
		for (const n of [1, 2, 3]) {
			const to = `${unique(`pipe${n}`)}@loopback.test`;
			const raw = compose(to, 'Line one\nline two\n.\nline four');
			const outcome = await sender.send({ from: FROM, recipients: [to], raw });
			expect(outcome, JSON.stringify(outcome)).toMatchObject({ ok: true, code: 250 });
			// The group went out before any of its replies came back (RFC 2920), SIZE declared.
			const lines = outcome.ok ? outcome.transcript : [];
			const mail = lines.findIndex((line) => line.startsWith('C: MAIL FROM:'));
			expect(lines.slice(mail, mail + 3)).toEqual([`C: MAIL FROM:<${FROM}> SIZE=${messageSize(raw)}`, `C: RCPT TO:<${to}>`, 'C: DATA']);
			expect(lines[mail + 3]).toMatch(/^S: 250 2\.1\.0/);
		}
		expect(sender.transcript.join('\n')).toContain('S: 250-PIPELINING');
		expect(sender.transcript.some((line) => line.startsWith('C: RSET'))).toBe(false);
		await sender.close();
	});

	it('refuses a message over its SIZE before uploading it, and the session goes on', async (context) => {
		if (!running) context.skip();
		const sender = senderAs('acme.test');
		const to = `${unique('size')}@loopback.test`;
		const big = compose(to, 'A long answer with many words in it. '.repeat(3_000));
		const refused = await sender.send({ from: FROM, recipients: [to], raw: big });
		expect(refused).toMatchObject({ ok: false, attempt: { stage: 'mail', category: 'rejected', temporary: false } });
		expect(refused.ok ? '' : refused.attempt.hint).toContain('(100000 bytes, its SIZE)');
		expect(sender.transcript.some((line) => line.startsWith('C: MAIL FROM:'))).toBe(false);
		expect(await sender.send({ from: FROM, recipients: [to], raw: compose(to, 'Short.') })).toMatchObject({ ok: true, code: 250 });
		await sender.close();
	});
});
