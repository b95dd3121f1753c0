/**
 * One mail transaction on an open session (RFC 5321 §3.3): MAIL FROM, one RCPT TO per
 * recipient, DATA and the message, exactly as given. When the server offers PIPELINING
 * (RFC 2920), MAIL, every RCPT and DATA go out in one write and their replies are read in
 * order, each within its own limit; otherwise one command at a time. A recipient refused among
 * several is listed and the others still get the message; a failure says at which step, and
 * whether the message data had already gone out (then it may have been delivered, SPEC §10).
 */
import type { SmtpStage, SmtpTestStep } from '../../src/lib/schema/smtp-test';
import type { Failure, SmtpReply } from './classify';
import type { StagedSession } from './staged-session';

export interface TransactionInput {
	/** The envelope sender (RFC 5321 reverse-path). */
	from: string;
	recipients: string[];
	/** The message as composed (CRLF line ends); dot-stuffing is done here. */
	message: string;
	limits: { replyMs: number; dataMs: number };
	/** The server offers PIPELINING (RFC 2920): MAIL, RCPT and DATA go out as one group. */
	pipelining?: boolean;
	/** The server offers SIZE (RFC 1870 §6): the message's size in bytes, declared on MAIL FROM. */
	size?: number;
	/**
	 * Marks that the message data may go out, so a crash after it is known (SPEC §10); done before
	 * the data. Pipelined, it runs while the group's replies are awaited, so its own wait (a D1
	 * write) overlaps theirs; a mark a reply early only errs on the side of "may have arrived".
	 */
	beforeData?: () => Promise<void>;
}

export type TransactionResult =
	| { ok: true; reply: SmtpReply; accepted: string[]; refused: Array<{ address: string; reply: SmtpReply }>; steps: SmtpTestStep[] }
	| {
			ok: false;
			stage: Extract<SmtpStage, 'mail' | 'rcpt' | 'data'>;
			failure: Failure;
			refused: Array<{ address: string; reply: SmtpReply }>;
			/** The message data was written and no final answer was read. */
			dataSent: boolean;
			steps: SmtpTestStep[];
	  };

/** RFC 2920 §3.1: with no recipient accepted, a DATA that was accepted anyway is ended at once with a lone dot. */
const EMPTY_DATA = '.\r\n';

export async function sendTransaction(session: StagedSession, input: TransactionInput): Promise<TransactionResult> {
	const mark: { pending?: Promise<void> } = {};
	try {
		return await exchange(session, input, mark);
	} finally {
		// An early mark is settled before the outcome is recorded (the record clears it).
		await mark.pending?.catch(() => {});
	}
}

async function exchange(session: StagedSession, input: TransactionInput, mark: { pending?: Promise<void> }): Promise<TransactionResult> {
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
	const fail = (stage: 'mail' | 'rcpt' | 'data', failure: Failure, dataSent = false): TransactionResult => {
		step(stage, false);
		return { ok: false, stage, failure, refused, dataSent, steps };
	};

	const mailLine = `MAIL FROM:<${input.from}>${input.size === undefined ? '' : ` SIZE=${input.size}`}`;
	const rcptLines = input.recipients.map((address) => `RCPT TO:<${address}>`);
	if (pipelined) {
		const failure = await session.pipeline('mail', [mailLine, ...rcptLines, 'DATA'], replyMs);
		if (failure) return fail('mail', failure);
		mark.pending = input.beforeData?.();
		// Awaited before the data (its failure fails the send as before); settled in any case.
		mark.pending?.catch(() => {});
	}
	// Pipelined, each reply is read in turn (RFC 2920 §3.1: every one of the group's replies is checked).
	const ask = (stage: SmtpStage, line: string) => (pipelined ? session.next(stage, replyMs) : session.command(stage, line, replyMs));

	const mail = await ask('mail', mailLine);
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
		if (data.reply.code === 354) await session.data(EMPTY_DATA, replyMs);
		return fail(refusalStage, { kind: 'reply', reply: refusal });
	}
	if (data.reply.code !== 354) return fail('data', { kind: 'reply', reply: data.reply });
	await (pipelined ? mark.pending : input.beforeData?.());
	const sent = await session.data(stuffDots(input.message), dataMs);
	if ('failure' in sent) return fail('data', sent.failure, true);
	if (sent.reply.code >= 400 || sent.reply.code < 200) return fail('data', { kind: 'reply', reply: sent.reply });
	step('data', true);
	return { ok: true, reply: sent.reply, accepted, refused, steps };
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
