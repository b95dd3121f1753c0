/**
 * One mail transaction on an open session (RFC 5321 §3.3): MAIL FROM, one RCPT TO per
 * recipient, DATA and the message, exactly as given. When the server offers PIPELINING
 * (RFC 2920), MAIL, every RCPT and DATA go out in one write and their replies are read in
 * order, each within its own limit; otherwise one command at a time. A recipient refused among
 * several is listed and the others still get the message; a failure says at which step, and
 * whether the message data had already gone out (then it may have been delivered, SPEC §10).
 * On a reused session the next message's group may ride with this message's data (RFC 2920
 * §3.1, `following`), so a message costs the Worker about one wait for the server instead of two.
 */
import type { SmtpStage, SmtpTestStep } from '../../src/lib/schema/smtp-test';
import type { Failure, SmtpReply } from './classify';
import type { StagedSession } from './staged-session';

/** What a transaction's opening group is made of: the envelope, and the size declared on MAIL FROM. */
export interface Envelope {
	/** The envelope sender (RFC 5321 reverse-path). */
	from: string;
	recipients: string[];
	/** The server offers SIZE (RFC 1870 §6): the message's size in bytes, declared on MAIL FROM. */
	size?: number;
}

/** The next message, as `following` gives it: its envelope, and its mark (`beforeData`), made once its group is out. */
export interface Following extends Envelope {
	beforeData?: () => Promise<void>;
}

export interface TransactionInput extends Envelope {
	/** The message as composed (CRLF line ends); dot-stuffing is done here. */
	message: string;
	limits: { replyMs: number; dataMs: number };
	/** The server offers PIPELINING (RFC 2920): MAIL, RCPT and DATA go out as one group. */
	pipelining?: boolean;
	/**
	 * This transaction's MAIL, RCPT and DATA already went out, behind the previous message's data
	 * (RFC 2920 §3.1): only their replies are read. Pipelined sessions only.
	 */
	groupSent?: boolean;
	/**
	 * The next message's envelope, when it is ready by the time this message's data has gone out:
	 * its group is then written before this data's reply is read (RFC 2920 §3.1 allows the data as
	 * a group's first "command"), and the result says so (`presentedAt`). Pipelined sessions only.
	 */
	following?: () => Promise<Following | null>;
	/**
	 * Marks that the message data may go out, so a crash after it is known (SPEC §10); done before
	 * the data. Pipelined, it runs while the group's replies are awaited, so its own wait (a D1
	 * write) overlaps theirs; a mark a reply early only errs on the side of "may have arrived".
	 */
	beforeData?: () => Promise<void>;
}

export type TransactionResult = (
	| { ok: true; reply: SmtpReply; accepted: string[]; refused: Array<{ address: string; reply: SmtpReply }>; steps: SmtpTestStep[] }
	| {
			ok: false;
			stage: Extract<SmtpStage, 'mail' | 'rcpt' | 'data'>;
			failure: Failure;
			refused: Array<{ address: string; reply: SmtpReply }>;
			/** The message data was written and no final answer was read. */
			dataSent: boolean;
			/** The server's reply to the message data ended the transaction (RFC 5321 §4.1.1.4): no RSET is needed. */
			ended: boolean;
			steps: SmtpTestStep[];
	  }
) & {
	/**
	 * The next message's group went out behind this data (`following`), its transaction begun: the
	 * transcript line its commands start at (that message's own dialogue starts there), and its
	 * mark, begun then (the same early mark a pipelined group makes). Else null.
	 */
	presented: { at: number; marking?: Promise<void> } | null;
};

/**
 * RFC 5321 §4.5.3.1.10: a server out of recipients for one transaction answers 452 (RFC 3463
 * 4.5.3, "too many recipients"); the client sends to the accepted ones and gives the rest a
 * transaction of their own.
 */
export function tooManyRecipients(reply: SmtpReply): boolean {
	return reply.code === 452 && (reply.enhancedCode === '4.5.3' || /too many recipients/i.test(reply.text));
}

/** RFC 2920 §3.1: with no recipient accepted, a DATA that was accepted anyway is ended at once with a lone dot. */
const EMPTY_DATA = '.\r\n';

export async function sendTransaction(session: StagedSession, input: TransactionInput): Promise<TransactionResult> {
	const mark: { pending?: Promise<void> } = {};
	const ahead: Ahead = { presented: null };
	try {
		return { ...(await exchange(session, input, mark, ahead)), presented: ahead.presented };
	} finally {
		// An early mark is settled before the outcome is recorded (the record clears it).
		await mark.pending?.catch(() => {});
	}
}

/** RFC 5321 §4.1.1.2-4.1.1.4: a transaction's opening commands, in order. */
export function groupLines(envelope: Envelope): string[] {
	const mail = `MAIL FROM:<${envelope.from}>${envelope.size === undefined ? '' : ` SIZE=${envelope.size}`}`;
	return [mail, ...envelope.recipients.map((address) => `RCPT TO:<${address}>`), 'DATA'];
}

type Exchanged = Omit<Extract<TransactionResult, { ok: true }>, 'presented'> | Omit<Extract<TransactionResult, { ok: false }>, 'presented'>;
type Ahead = Pick<TransactionResult, 'presented'>;

async function exchange(
	session: StagedSession,
	input: TransactionInput,
	mark: { pending?: Promise<void> },
	ahead: Ahead
): Promise<Exchanged> {
	const steps: SmtpTestStep[] = [];
	const refused: Array<{ address: string; reply: SmtpReply }> = [];
	const accepted: string[] = [];
	const { replyMs, dataMs } = input.limits;
	const pipelined = input.pipelining === true;
	let stageStart = session.now();
	const step = (stage: SmtpStage, ok: boolean) => {
		const at = session.now();
		steps.push({ stage, ok, durationMs: at - stageStart });
		stageStart = at;
	};
	const fail = (stage: 'mail' | 'rcpt' | 'data', failure: Failure, dataSent = false, ended = false): Exchanged => {
		step(stage, false);
		return { ok: false, stage, failure, refused, dataSent, ended, steps };
	};

	const lines = groupLines(input);
	const [mailLine, ...rcptLines] = lines;
	// The next message is looked for while this one's replies are awaited (the caller's own waits overlap them).
	const following = pipelined ? input.following?.().catch(() => null) : undefined;
	if (pipelined) {
		const failure = input.groupSent ? null : await session.pipeline('mail', lines, replyMs);
		if (failure) return fail('mail', failure);
		mark.pending = input.beforeData?.();
		// Awaited before the data (its failure fails the send as before); settled in any case.
		mark.pending?.catch(() => {});
	}
	// Pipelined, each reply is read in turn (RFC 2920 §3.1: every one of the group's replies is checked).
	const ask = (stage: SmtpStage, line: string) => (pipelined ? session.next(stage, replyMs) : session.command(stage, line, replyMs));

	const mail = await ask('mail', mailLine!);
	if ('failure' in mail) return fail('mail', mail.failure);
	const mailRefused = mail.reply.code >= 400 ? mail.reply : null;
	if (mailRefused && !pipelined) return fail('mail', { kind: 'reply', reply: mailRefused });
	if (!mailRefused) step('mail', true);

	for (const [index, address] of input.recipients.entries()) {
		const rcpt = await ask('rcpt', rcptLines[index]!);
		// A group's later reply that never came: the refusal before it is what went wrong.
		if ('failure' in rcpt) return mailRefused ? fail('mail', { kind: 'reply', reply: mailRefused }) : fail('rcpt', rcpt.failure);
		// After a refused MAIL, the group's other replies (503s) are read and say nothing new.
		if (mailRefused) continue;
		// RFC 5321 §3.3: 250 and 251 accept; anything else refuses this recipient only.
		if (rcpt.reply.code === 250 || rcpt.reply.code === 251) accepted.push(address);
		else if (rcpt.reply.code === 421) return fail('rcpt', { kind: 'reply', reply: rcpt.reply });
		else refused.push({ address, reply: rcpt.reply });
	}
	// Every recipient refused: the transaction fails with the (last) refusal.
	const refusal = mailRefused ?? (accepted.length === 0 ? refused.at(-1)!.reply : null);
	const refusalStage = mailRefused ? 'mail' : 'rcpt';
	if (refusal && !pipelined) return fail(refusalStage, { kind: 'reply', reply: refusal });
	if (!refusal) step('rcpt', true);

	const data = await ask('data', 'DATA');
	if ('failure' in data) return refusal ? fail(refusalStage, { kind: 'reply', reply: refusal }) : fail('data', data.failure);
	if (refusal) {
		// RFC 2920 §3.1: a DATA the server accepted although nothing else was gets a lone dot.
		if (data.reply.code === 354 && !(await session.data(EMPTY_DATA, replyMs))) await session.next('data', replyMs);
		return fail(refusalStage, { kind: 'reply', reply: refusal });
	}
	if (data.reply.code !== 354) return fail('data', { kind: 'reply', reply: data.reply });
	await (pipelined ? mark.pending : input.beforeData?.());
	const written = await session.data(stuffDots(input.message), dataMs);
	if (written) return fail('data', written, true);
	const answer = session.next('data', dataMs);
	// Recipients over the server's limit go next in a transaction of their own: nothing is presented.
	if (following && !refused.some(({ reply }) => tooManyRecipients(reply))) await presentNext(session, following, answer, replyMs, ahead);
	const sent = await answer;
	if ('failure' in sent) return fail('data', sent.failure, true);
	// RFC 5321 §4.1.1.4: whatever its code, the reply to the data ends the transaction.
	if (sent.reply.code >= 400 || sent.reply.code < 200) return fail('data', { kind: 'reply', reply: sent.reply }, false, true);
	step('data', true);
	return { ok: true, reply: sent.reply, accepted, refused, steps };
}

/**
 * RFC 2920 §3.1: the next message's MAIL, RCPT and DATA go out behind this message's data when
 * the next message is ready before this data's reply has come; otherwise it waits for its own turn.
 */
async function presentNext(
	session: StagedSession,
	following: Promise<Following | null>,
	answer: Promise<unknown>,
	replyMs: number,
	ahead: Ahead
): Promise<void> {
	const next = await Promise.race([following, answer.then(() => null)]);
	if (!next || !session.isOpen) return;
	const at = session.transcript.lines.length;
	if ((await session.pipeline('mail', groupLines(next), replyMs)) !== null) return;
	const marking = next.beforeData?.();
	// Awaited by that message's own transaction, before its data; settled here in any case.
	marking?.catch(() => {});
	ahead.presented = { at, marking };
}

/** RFC 5321 §4.5.2: a line starting with "." gets one more; the data ends with CRLF.CRLF. */
export function stuffDots(message: string): string {
	// RFC 5321 §2.3.8: lines end in CRLF, and a bare CR or LF is not sent. Each becomes CRLF
	// before stuffing, so no server can ever read <LF>.<CR><LF> as the end of the data and
	// what follows as new commands (SMTP smuggling).
	const lines = message.replace(/\r\n|\r|\n/g, '\r\n');
	const body = lines.endsWith('\r\n') ? lines : `${lines}\r\n`;
	return `${body.replace(/^\./, '..').replace(/\r\n\./g, '\r\n..')}.\r\n`;
}
