/**
 * The SMTP sending test (SPEC §4): connect, secure, greet, introduce, log in and send a short
 * message, timing each stage; on failure, classify by the stage reached and the server's
 * words. It opens its session and sends through the same path as replies (staged-session.ts,
 * transaction.ts). The outcome is a value, never an exception.
 */
import type { SmtpCategory, SmtpStage, SmtpTestStep } from '../../src/lib/schema/smtp-test';
import { composeMessage } from '../mail/compose';
import type { Probe } from './classify';
import { QUIT_TIMEOUT_MS, REPLY_TIMEOUT_MS, TOTAL_BUDGET_MS } from './limits';
import type { DialogueListener, SmtpSession } from './mailer-session';
import { StagedSession, type SmtpSettings, type StageFailure } from './staged-session';
import { TEST_HEADER } from './test-token';
import { sendTransaction } from './transaction';

export type SmtpTestSettings = SmtpSettings;

export interface SmtpTestOutcome {
	ok: boolean;
	stage: SmtpStage;
	category: SmtpCategory | null;
	code?: number;
	enhancedCode?: string;
	serverMessage?: string;
	hint: string;
	transcript: string[];
	steps: SmtpTestStep[];
	durationMs: number;
}

export interface SmtpTestOptions {
	settings: SmtpTestSettings;
	from: { name?: string; email: string };
	to: string;
	/**
	 * SPEC §16: sent as `X-Mailgate-Test` so that email() knows the message if it comes back to a
	 * service address (smtp/test-token.ts); absent, the message carries no such header.
	 */
	testToken?: string;
	allowPrivateHosts: boolean;
	openSession?: (settings: SmtpTestSettings, listener: DialogueListener) => SmtpSession;
	probe?: (host: string, port: number) => Promise<Probe>;
	now?: () => number;
}

export async function runSmtpTest(options: SmtpTestOptions): Promise<SmtpTestOutcome> {
	const { session, failure, refusal } = await StagedSession.open({
		settings: options.settings,
		allowPrivateHosts: options.allowPrivateHosts,
		budgetMs: TOTAL_BUDGET_MS,
		openSession: options.openSession,
		probe: options.probe,
		now: options.now
	});
	if (refusal) return { ok: false, stage: 'connect', category: 'config', hint: refusal, transcript: [], steps: [], durationMs: 0 };

	const finish = (stageFailure: StageFailure | null, stage: SmtpStage = 'data'): SmtpTestOutcome => {
		const durationMs = session.now() - session.started;
		if (!stageFailure) {
			return {
				ok: true,
				stage,
				category: null,
				hint: `The test message was accepted for ${options.to}. Sending works with these settings.`,
				transcript: session.transcript.lines,
				steps: session.steps,
				durationMs
			};
		}
		return { ok: false, stage: stageFailure.stage, ...session.explain(stageFailure), transcript: session.transcript.lines, steps: session.steps, durationMs };
	};
	if (failure) return finish(failure);

	const messageId = `${crypto.randomUUID()}@${options.from.email.split('@').pop()}`;
	const { raw } = composeMessage({
		from: { name: options.from.name ?? '', address: options.from.email },
		to: [options.to],
		cc: [],
		subject: 'Mailgate SMTP test',
		text: `This is a test message from Mailgate, sent to check the SMTP settings of ${options.from.email}.\r\nNo reply is needed.`,
		attachments: [],
		messageId,
		inReplyTo: null,
		references: [],
		date: new Date(),
		// RFC 3834 §5: an automatic message, so no auto-reply answers it.
		extraHeaders: { ...(options.testToken ? { [TEST_HEADER]: options.testToken } : {}), 'Auto-Submitted': 'auto-generated' }
	});
	// MAIL, RCPT and DATA share what is left of the test's budget.
	const left = Math.max(0, TOTAL_BUDGET_MS - (session.now() - session.started));
	const result = await sendTransaction(session, {
		from: options.from.email,
		recipients: [options.to],
		message: raw,
		limits: { replyMs: Math.min(REPLY_TIMEOUT_MS, left), dataMs: Math.min(REPLY_TIMEOUT_MS * 2, left) }
	});
	session.steps.push(...result.steps);
	if (!result.ok) {
		session.abort();
		return finish({ stage: result.stage, failure: result.failure });
	}
	await session.quit(QUIT_TIMEOUT_MS);
	return finish(null);
}

