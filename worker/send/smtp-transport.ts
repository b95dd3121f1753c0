/**
 * Sending over SMTP (RFC 5321): the session opens stage by stage (smtp/staged-session.ts), each
 * message is one transaction (smtp/transaction.ts; pipelined when the server offers it), RSET
 * only before a message that follows a transaction the server's reply to its data did not end
 * (RFC 5321 §4.1.1.5), the next message's MAIL, RCPT and DATA behind the data of the one before
 * when it is ready in time (RFC 2920 §3.1), and every failure is explained by the classifier (smtp/classify.ts)
 * and judged temporary or not, so callers get a `SendOutcome` and never an SMTP reply. A
 * refusal leaves the session open (the next message, or QUIT, follows); only a lost or
 * out-of-step connection is dropped.
 */
import type { RefusedRecipient } from '../../src/lib/schema/outbound';
import { classify, isTemporary, type SmtpReply } from '../smtp/classify';
import { limitOfReply } from '../smtp/provider-limit';
import type { SmtpSettings } from '../smtp/settings';
import { exceedsSize, messageSize, tooLargeHint } from '../smtp/message-size';
import { StagedSession, type SessionOptions, type StageFailure } from '../smtp/staged-session';
import { sendTransaction, tooManyRecipients, type Following, type TransactionInput, type TransactionResult } from '../smtp/transaction';
import type { SendTimeouts } from './timeouts';
import { configAttempt, type OutgoingMessage, type SendAttempt, type SendOutcome, type Transport, type TransportSession } from './transport';

export interface SmtpTransportOptions {
	timeouts: SendTimeouts;
	/** ALLOW_PRIVATE_SMTP_HOSTS (local use only): loopback and private hosts may be reached. */
	allowPrivateHosts: boolean;
	/** The EHLO name (smtp/ehlo-name.ts); absent, the address literal RFC 5321 §4.1.3 allows a client without one. */
	ehloName?: string;
	/** Replaces worker-mailer over cloudflare:sockets (tests). */
	openSession?: SessionOptions['openSession'];
	probe?: SessionOptions['probe'];
	now?: () => number;
}

export function smtpTransport(options: SmtpTransportOptions): Transport {
	return {
		async open(settings) {
			const { session, failure, refusal } = await StagedSession.open({ ...options, ehloName: options.ehloName ?? ADDRESS_LITERAL, settings });
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

/** Transactions for recipients a server had no room for (§10 caps a reply at 50 recipients; a server that takes 5 at a time needs 10). */
const MAX_RECIPIENT_ROUNDS = 10;

/** RFC 5321 §4.1.3: a client with no name greets with its address as a literal. */
const ADDRESS_LITERAL = '[127.0.0.1]';

class SmtpTransportSession implements TransportSession {
	/** The last transaction stopped before the server's reply to its data: RSET before the next (RFC 5321 §4.1.1.5). */
	private unfinished = false;
	/**
	 * The message whose MAIL, RCPT and DATA already went out behind the last data (RFC 2920 §3.1),
	 * the transcript line they start at, and its mark (begun then).
	 */
	private presented: { message: OutgoingMessage; at: number; marking?: Promise<void> } | null = null;

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

	async reset(next?: OutgoingMessage): Promise<void> {
		// A transaction begun for another message (the caller went on without it) may stand at DATA's
		// 354, where any line would be taken as message text: the connection is dropped instead.
		if (next && this.presented && this.presented.message !== next) {
			this.presented = null;
			this.session.abort();
		}
		if (!this.session.isOpen || !this.unfinished) return;
		// RFC 5321 §4.1.1.5: RSET abandons a transaction that did not end; after a 2xx to the data the
		// next MAIL may follow at once (RFC 5321 §4.1.1.4: the transaction is over).
		this.unfinished = false;
		const reset = await this.session.command('mail', 'RSET', this.timeouts.replyMs);
		if ('failure' in reset || reset.reply.code >= 400) this.session.abort();
	}

	async send(message: OutgoingMessage): Promise<SendOutcome> {
		const { session, timeouts } = this;
		const ahead = this.presented?.message === message ? this.presented : null;
		const groupSent = ahead !== null;
		// A message whose commands went out behind the one before has its dialogue from them on.
		const linesBefore = ahead ? ahead.at : session.transcript.lines.length;
		// With a send budget (the test, the probe), MAIL, RCPT and DATA share what is left of it.
		const left = timeouts.sendBudgetMs === null ? Number.POSITIVE_INFINITY : Math.max(0, timeouts.sendBudgetMs - (session.now() - session.started));
		const { pipelining, size: sizeLimit } = session.smtp.capabilities;
		const { size, tooLarge } = measure(message.raw, sizeLimit);
		this.presented = null;
		let upcoming: OutgoingMessage | null = null;
		if (tooLarge) {
			// RFC 1870 §6: refused before a byte of it is uploaded, for good (the same bytes never fit).
			session.transcript.note(`not sent: the message is ${tooLarge.bytes} bytes, over the server's SIZE ${tooLarge.limit}`);
			const transcript = session.transcript.lines.slice(linesBefore);
			return { ok: false, attempt: { stage: 'mail', category: 'rejected', hint: tooLargeHint(tooLarge), temporary: false, transcript, mayHaveArrived: false, refused: [] } };
		}
		const transaction = {
			from: message.from,
			message: message.raw,
			limits: { replyMs: Math.min(timeouts.replyMs, left), dataMs: Math.min(timeouts.dataMs, left) },
			pipelining,
			size
		};
		const result = await sendTransaction(session, {
			...transaction,
			recipients: message.recipients,
			groupSent,
			following: message.following && (async () => envelopeOf((upcoming = await message.following!()), sizeLimit)),
			beforeData: ahead?.marking ? () => ahead.marking! : message.beforeData
		});
		session.steps.push(...result.steps);
		if (result.presented && upcoming && this.session.isOpen) this.presented = { message: upcoming, ...result.presented };
		if (result.ok) {
			const { accepted, refused: left } = await this.sendToTheRest(transaction, result);
			const { code, enhancedCode, raw } = result.reply;
			const refused = left.map(({ address, reply }) => this.refusedRecipient(address, reply));
			return { ok: true, code, enhancedCode, serverMessage: raw, accepted, refused, transcript: session.transcript.lines.slice(linesBefore) };
		}
		const transcript = session.transcript.lines.slice(linesBefore);
		const refused = result.refused.map(({ address, reply }) => this.refusedRecipient(address, reply));
		const attempt = explain(session, { stage: result.stage, failure: result.failure }, { dataSent: result.dataSent, transcript, refused });
		// A timeout or lost connection was dropped already.
		await this.afterFailure(result);
		return { ok: false, attempt };
	}

	/**
	 * RFC 5321 §4.5.3.1.10: recipients the server had no room for in the transaction (452) get the
	 * same message in the next one on this session, until none is left or a round gets nowhere;
	 * what is still refused then is listed with the server's words.
	 */
	private async sendToTheRest(
		transaction: Omit<TransactionInput, 'recipients'>,
		first: { accepted: string[]; refused: Array<{ address: string; reply: SmtpReply }> }
	): Promise<{ accepted: string[]; refused: Array<{ address: string; reply: SmtpReply }> }> {
		let { accepted, refused } = first;
		for (let round = 0; round < MAX_RECIPIENT_ROUNDS; round++) {
			const over = refused.filter(({ reply }) => tooManyRecipients(reply)).map(({ address }) => address);
			if (over.length === 0 || !this.session.isOpen) break;
			const next = await sendTransaction(this.session, { ...transaction, recipients: over });
			this.session.steps.push(...next.steps);
			if (!next.ok) {
				await this.afterFailure(next);
				break;
			}
			accepted = [...accepted, ...next.accepted];
			refused = [...refused.filter(({ address }) => !over.includes(address)), ...next.refused];
		}
		return { accepted, refused };
	}

	/** A refusal leaves the dialogue in step: RSET before the next message, QUIT at the end. A 421 is the server closing (RFC 5321 §3.8): goodbye now. */
	private async afterFailure(result: Extract<TransactionResult, { ok: false }>): Promise<void> {
		if (result.failure.kind === 'reply' && result.failure.reply.code === 421) await this.close();
		else this.unfinished = !result.ended;
	}

	close(): Promise<void> {
		// A transaction begun for a message that will not be sent: see reset().
		if (this.presented) {
			this.presented = null;
			this.session.abort();
		}
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
	// SPEC §15: a provider's limit answer is temporary whatever its first digit, and pauses the mailbox.
	const limit = stopped.failure.kind === 'reply' && !context.dataSent ? limitOfReply(stopped.failure.reply)?.limit : undefined;
	return {
		stage: stopped.stage,
		...session.explain(stopped),
		temporary: isTemporary(stopped.failure, { dataSent: context.dataSent }),
		transcript: context.transcript,
		mayHaveArrived: context.dataSent,
		refused: context.refused ?? [],
		...(limit ? { limit } : {})
	};
}

/**
 * The envelope of the message to follow on this session, for its group to go out behind this
 * message's data; none when there is no such message or it is over the server's SIZE (then it
 * is refused before any command, in its own send).
 */
function envelopeOf(next: OutgoingMessage | null, sizeLimit: number | null): Following | null {
	if (!next) return null;
	const { size, tooLarge } = measure(next.raw, sizeLimit);
	return tooLarge ? null : { from: next.from, recipients: next.recipients, size, beforeData: next.beforeData };
}

/** RFC 1870: a message's size to declare on MAIL FROM where the server offers SIZE, and whether it is over the server's. */
function measure(raw: string, sizeLimit: number | null): { size?: number; tooLarge: ReturnType<typeof exceedsSize> } {
	if (sizeLimit === null) return { tooLarge: null };
	const size = messageSize(raw);
	return { size, tooLarge: exceedsSize(size, sizeLimit) };
}
