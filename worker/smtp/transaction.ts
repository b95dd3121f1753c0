/**
 * One mail transaction on an open session (RFC 5321 §3.3): MAIL FROM, one RCPT TO per
 * recipient, DATA and the message, exactly as given. A recipient refused among several is
 * listed and the others still get the message; a failure says at which step, and whether the
 * message data had already gone out (then it may have been delivered, SPEC §10).
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
	/** Called right before the message data goes out, so a crash after it is known (SPEC §10). */
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

export async function sendTransaction(session: StagedSession, input: TransactionInput): Promise<TransactionResult> {
	const steps: SmtpTestStep[] = [];
	const refused: Array<{ address: string; reply: SmtpReply }> = [];
	const accepted: string[] = [];
	const { replyMs, dataMs } = input.limits;
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

	const mail = await session.command('mail', `MAIL FROM:<${input.from}>`, replyMs);
	if ('failure' in mail) return fail('mail', mail.failure);
	if (mail.reply.code >= 400) return fail('mail', { kind: 'reply', reply: mail.reply });
	step('mail', true);

	for (const address of input.recipients) {
		const rcpt = await session.command('rcpt', `RCPT TO:<${address}>`, replyMs);
		if ('failure' in rcpt) return fail('rcpt', rcpt.failure);
		// RFC 5321 §3.3: 250 and 251 accept; anything else refuses this recipient only.
		if (rcpt.reply.code === 250 || rcpt.reply.code === 251) accepted.push(address);
		else if (rcpt.reply.code === 421) return fail('rcpt', { kind: 'reply', reply: rcpt.reply });
		else refused.push({ address, reply: rcpt.reply });
	}
	if (accepted.length === 0) {
		// Every recipient refused: the transaction fails with the (last) refusal.
		return fail('rcpt', { kind: 'reply', reply: refused.at(-1)!.reply });
	}
	step('rcpt', true);

	const data = await session.command('data', 'DATA', replyMs);
	if ('failure' in data) return fail('data', data.failure);
	if (data.reply.code !== 354) return fail('data', { kind: 'reply', reply: data.reply });
	await input.beforeData?.();
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
