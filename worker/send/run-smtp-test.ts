/**
 * The SMTP sending test (SPEC §4): log in, open, send a short message, timing each stage, through
 * the same sender as replies and the probe (mailbox-sender.ts); on failure, the stage reached,
 * the category and the hint the sender explained. The outcome is a value, never an exception.
 */
import type { SmtpTestResult } from '../../src/lib/schema/smtp-test';
import { composeMessage } from '../mail/compose';
import { TEST_HEADER } from './test-token';
import type { SmtpLogin } from './credentials';
import type { LoginFailure } from './login';
import { openSender } from './mailbox-sender';
import { failedPayload } from './payload';
import { INTERACTIVE_TIMEOUTS } from './timeouts';
import type { SendAttempt, Transport } from './transport';

/** The test's part of its result (SPEC §7); the API adds which test it was. */
export type SmtpTestOutcome = Omit<SmtpTestResult, 'id' | 'mailboxId' | 'settings' | 'to' | 'at' | 'receipt'>;

export interface SmtpTestOptions {
	/** The sign-in to test with (credentials.ts): the mailbox's own, or a password typed into the form. */
	login: () => Promise<SmtpLogin>;
	from: { name?: string; email: string };
	to: string;
	/**
	 * SPEC §16: a token sent as `X-Mailgate-Test` so that email() knows the message if it comes
	 * back to a service address (test-token.ts), made once the session is open; absent, the
	 * message carries no such header.
	 */
	issueTestToken?: () => Promise<string>;
	allowPrivateHosts: boolean;
	/** The name the session greets with (smtp/ehlo-name.ts). */
	ehloName?: string;
	/** Replaces SMTP over cloudflare:sockets (tests). */
	transport?: Transport;
	now?: () => number;
}

/** The outcome, and why no login could be made when that is where it stopped (the API answers one reason with a 503). */
export async function runSmtpTest(options: SmtpTestOptions): Promise<SmtpTestOutcome & { credential?: LoginFailure['reason'] }> {
	const now = options.now ?? (() => Date.now());
	const started = now();
	const { login, allowPrivateHosts, ehloName, transport } = options;
	const sender = openSender({ login, timeouts: INTERACTIVE_TIMEOUTS, allowPrivateHosts, ehloName, transport });
	const finish = (failed: SendAttempt | null, via: 'smtp' | 'api' = 'smtp') => {
		const result = { transcript: [...sender.transcript], steps: [...sender.steps], durationMs: now() - started };
		if (!failed) {
			// SPEC §14: an API send's last stage is `send`.
			return { ok: true, stage: via === 'api' ? ('send' as const) : ('data' as const), category: null, hint: `The test message was accepted for ${options.to}. Sending works with these settings.`, ...result };
		}
		return { ...failedPayload(failed, result.durationMs), ...result, credential: failed.credential };
	};

	const readiness = await sender.ready();
	if (!readiness.ok) return finish(readiness.attempt);
	const testToken = await options.issueTestToken?.();
	const { raw } = composeMessage({
		from: { name: options.from.name ?? '', address: options.from.email },
		to: [options.to],
		cc: [],
		subject: 'Mailgate SMTP test',
		text: `This is a test message from Mailgate, sent to check the SMTP settings of ${options.from.email}.\r\nNo reply is needed.`,
		attachments: [],
		messageId: `${crypto.randomUUID()}@${options.from.email.split('@').pop()}`,
		inReplyTo: null,
		references: [],
		date: new Date(),
		// RFC 3834 §5: an automatic message, so no auto-reply answers it.
		extraHeaders: { ...(testToken ? { [TEST_HEADER]: testToken } : {}), 'Auto-Submitted': 'auto-generated' }
	});
	const sent = await sender.send({ from: options.from.email, recipients: [options.to], raw });
	// The result's transcript ends with the server's answer; QUIT follows, after a refusal too.
	const result = finish(sent.ok ? null : sent.attempt, sent.ok ? sent.via : undefined);
	await sender.close();
	return result;
}
