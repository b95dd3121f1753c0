/**
 * Sending over SMTP (RFC 5321): the session opens stage by stage (smtp/staged-session.ts), each
 * message is one transaction (smtp/transaction.ts), RSET between messages on one session, and
 * every failure is explained by the classifier (smtp/classify.ts) and judged temporary or not,
 * so callers get a `SendOutcome` and never an SMTP reply.
 */
import type { RefusedRecipient } from '../../src/lib/schema/outbound';
import { classify, isTemporary, type SmtpReply } from '../smtp/classify';
import type { SmtpSettings } from '../smtp/settings';
import { StagedSession, type SessionOptions, type StageFailure } from '../smtp/staged-session';
import { sendTransaction } from '../smtp/transaction';
import type { SendTimeouts } from './timeouts';
import { configAttempt, type OutgoingMessage, type SendAttempt, type SendOutcome, type Transport, type TransportSession } from './transport';

export interface SmtpTransportOptions {
	timeouts: SendTimeouts;
	/** ALLOW_PRIVATE_SMTP_HOSTS (local use only): loopback and private hosts may be reached. */
	allowPrivateHosts: boolean;
	/** Replaces worker-mailer over cloudflare:sockets (tests). */
	openSession?: SessionOptions['openSession'];
	probe?: SessionOptions['probe'];
	now?: () => number;
}

export function smtpTransport(options: SmtpTransportOptions): Transport {
	return {
		async open(settings) {
			const { session, failure, refusal } = await StagedSession.open({ ...options, settings });
			const transportSession = new SmtpTransportSession(session, settings, options.timeouts);
			if (refusal) return { session: transportSession, failure: { attempt: configAttempt(refusal), authRefused: false } };
			if (failure) {
				const attempt = explain(session, failure, { dataSent: false, transcript: session.transcript.lines });
				return { session: transportSession, failure: { attempt, authRefused: failure.stage === 'auth' } };
			}
			return { session: transportSession, failure: null };
		}
	};
}

class SmtpTransportSession implements TransportSession {
	private used = false;

	constructor(
		private readonly session: StagedSession,
		private readonly settings: SmtpSettings,
		private readonly timeouts: SendTimeouts
	) {}

	get isOpen(): boolean {
		return this.session.isOpen;
	}

	get transcript(): readonly string[] {
		return this.session.transcript.lines;
	}

	get steps() {
		return this.session.steps;
	}

	async reset(): Promise<void> {
		if (!this.session.isOpen || !this.used) return;
		// RFC 5321 §4.1.1.5: a clean slate between messages on one session.
		const reset = await this.session.command('mail', 'RSET', this.timeouts.replyMs);
		if ('failure' in reset || reset.reply.code >= 400) this.session.abort();
	}

	async send(message: OutgoingMessage): Promise<SendOutcome> {
		const { session, timeouts } = this;
		const linesBefore = session.transcript.lines.length;
		// With a send budget (the test, the probe), MAIL, RCPT and DATA share what is left of it.
		const left = timeouts.sendBudgetMs === null ? Number.POSITIVE_INFINITY : Math.max(0, timeouts.sendBudgetMs - (session.now() - session.started));
		const result = await sendTransaction(session, {
			from: message.from,
			recipients: message.recipients,
			message: message.raw,
			limits: { replyMs: Math.min(timeouts.replyMs, left), dataMs: Math.min(timeouts.dataMs, left) },
			beforeData: message.beforeData
		});
		this.used = true;
		session.steps.push(...result.steps);
		const transcript = session.transcript.lines.slice(linesBefore);
		const refused = result.refused.map(({ address, reply }) => this.refusedRecipient(address, reply));
		if (result.ok) {
			const { code, enhancedCode, raw } = result.reply;
			return { ok: true, code, enhancedCode, serverMessage: raw, accepted: result.accepted, refused, transcript };
		}
		session.abort();
		return { ok: false, attempt: explain(session, { stage: result.stage, failure: result.failure }, { dataSent: result.dataSent, transcript, refused }) };
	}

	close(): Promise<void> {
		return this.session.quit(this.timeouts.quitMs);
	}

	/** A recipient refused among others, explained as the test explains a refused recipient. */
	private refusedRecipient(address: string, reply: SmtpReply): RefusedRecipient {
		const { encryption, port, host } = this.settings;
		const { hint } = classify({ stage: 'rcpt', failure: { kind: 'reply', reply }, encryption, port, host, timeoutSeconds: Math.round(this.timeouts.replyMs / 1000) });
		return { address, code: reply.code, enhancedCode: reply.enhancedCode, serverMessage: reply.raw, hint };
	}
}

function explain(
	session: StagedSession,
	stopped: StageFailure,
	context: { dataSent: boolean; transcript: string[]; refused?: RefusedRecipient[] }
): SendAttempt {
	return {
		stage: stopped.stage,
		...session.explain(stopped),
		temporary: isTemporary(stopped.failure, { dataSent: context.dataSent }),
		transcript: context.transcript,
		mayHaveArrived: context.dataSent,
		refused: context.refused ?? []
	};
}
