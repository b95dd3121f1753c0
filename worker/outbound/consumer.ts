/**
 * The OUTBOUND_QUEUE consumer (SPEC §10 "Delivery"): the queue carries ids; each message is
 * claimed in D1 (so a redelivered queue message never sends one already `sent`), and a batch's
 * messages for one mailbox go out over one SMTP session, RSET between them, a new session only
 * after a failure closed it. Every attempt is recorded, classified like the SMTP test. The one
 * place that acks, defers or gives up is `settle`.
 */
import type { OutboundAttempt, RefusedRecipient } from '../../src/lib/schema/outbound';
import { findMailbox, type StoredMailbox } from '../db/mailboxes';
import { claimOutbound, findOutbound, markDataStarted, type AttemptOutcome, type StoredOutbound } from '../db/outbound';
import { finishAttempt } from './status';
import { classify, type Failure, type SmtpReply } from '../smtp/classify';
import { OUTBOUND_DATA_TIMEOUT_MS, OUTBOUND_LOGIN_BUDGET_MS, OUTBOUND_REPLY_TIMEOUT_MS, QUIT_TIMEOUT_MS } from '../smtp/limits';
import { smtpLoginFor } from '../smtp/credentials';
import { StagedSession, type SmtpSettings } from '../smtp/staged-session';
import { sendTransaction } from '../smtp/transaction';
import { archiveKey, enqueue } from './create';
import { checkComposedHeaders } from '../mail/composed-headers';
import { isTemporary, nextAttemptAt } from './retry-policy';

export interface OutboundQueueMessage {
	id: string;
}

/**
 * How long one message may stay `sending` before it counts as abandoned (the Worker stopped
 * mid-attempt): longer than the slowest attempt (login budget, the replies, the data).
 */
export const SENDING_LEASE_MS = OUTBOUND_LOGIN_BUDGET_MS + 4 * OUTBOUND_REPLY_TIMEOUT_MS + OUTBOUND_DATA_TIMEOUT_MS + 60_000;

/** Lines of the dialogue kept per attempt: enough to see every step, bounded for the D1 row. */
const MAX_TRANSCRIPT_LINES = 60;
const MAX_TRANSCRIPT_LINE = 500;

export interface ConsumerDependencies {
	now?: () => Date;
	/** Replaces the SMTP session (tests); production opens worker-mailer over cloudflare:sockets. */
	openSession?: Parameters<typeof StagedSession.open>[0]['openSession'];
}

type QueueMessage = Pick<Message<OutboundQueueMessage>, 'body' | 'ack' | 'retry' | 'attempts'>;

export async function consumeOutbound(messages: readonly QueueMessage[], env: Env, deps: ConsumerDependencies = {}): Promise<void> {
	const now = deps.now ?? (() => new Date());
	const byMailbox = new Map<string | null, Array<{ message: QueueMessage; outbound: StoredOutbound }>>();
	for (const message of messages) {
		const id = typeof message.body?.id === 'string' ? message.body.id : null;
		const outbound = id ? await claimOutbound(env.DB, id, now()) : null;
		if (!outbound) {
			if (id) await resolveUnclaimed(env, id, message, now());
			else message.ack(); // Not one of ours: nothing to send.
			continue;
		}
		const group = byMailbox.get(outbound.mailboxId) ?? [];
		group.push({ message, outbound });
		byMailbox.set(outbound.mailboxId, group);
	}
	for (const [mailboxId, group] of byMailbox) await sendGroup(env, mailboxId, group, now, deps);
}

/**
 * A queue message whose row could not be claimed: already sent, failed or bounced (a
 * redelivery: done), or `sending`. A `sending` row past its lease was abandoned by a Worker
 * that stopped; if its data had gone out it may have arrived and is never sent again (SPEC §10).
 */
async function resolveUnclaimed(env: Env, id: string, message: QueueMessage, at: Date): Promise<void> {
	const outbound = await findOutbound(env.DB, id);
	if (!outbound || outbound.status !== 'sending') return message.ack();
	const claimedAt = outbound.claimedAt ? Date.parse(outbound.claimedAt) : 0;
	const age = at.getTime() - claimedAt;
	if (age < SENDING_LEASE_MS) {
		// Another consumer holds it right now: look again once its lease is over.
		return message.retry({ delaySeconds: Math.ceil((SENDING_LEASE_MS - age) / 1000) + 5 });
	}
	await recoverAbandoned(env, outbound, at);
	message.ack();
}

/** A `sending` row whose Worker stopped: never guess. Data out: may have arrived; else send again. */
export async function recoverAbandoned(env: Env, outbound: StoredOutbound, at: Date): Promise<void> {
	if (outbound.dataStartedAt) {
		await finishAttempt(env, outbound, {
			status: 'failed',
			attempt: {
				at: outbound.dataStartedAt,
				ok: false,
				stage: 'data',
				category: 'timeout',
				hint: mayHaveArrivedHint(),
				durationMs: at.getTime() - Date.parse(outbound.claimedAt ?? outbound.dataStartedAt),
				mayHaveArrived: true
			}
		});
		return;
	}
	await finishAttempt(env, outbound, { status: 'queued', attempt: null });
	await enqueue(env, outbound.id);
}

const mayHaveArrivedHint = () =>
	'The message data went out, but the server\'s answer never came (the connection dropped or timed out). It may or may not have been delivered, so it is not sent again by itself: check the recipient\'s mailbox or the Sent folder of the account, and use Retry only if it did not arrive.';

async function sendGroup(
	env: Env,
	mailboxId: string | null,
	group: Array<{ message: QueueMessage; outbound: StoredOutbound }>,
	now: () => Date,
	deps: ConsumerDependencies
): Promise<void> {
	const mailbox = mailboxId ? await findMailbox(env.DB, mailboxId) : null;
	if (!mailbox) {
		for (const item of group) await settle(env, item, now(), configFailure('The mailbox this reply was sent from has been deleted, so it cannot leave.'));
		return;
	}
	// The mailbox's password or OAuth access token (SPEC §12), as the SMTP test and the probe get theirs.
	const login = await smtpLoginFor(env, mailbox, { now: () => now().getTime() });
	if (!login.ok) {
		const { stage, category, hint, temporary } = login.failure;
		// A withdrawn sign-in or settings that cannot work fail at once (Retry after the fix); a
		// provider that did not answer is retried like any temporary failure.
		const failure: AttemptResult = { ok: false, stage, category, hint: temporary ? hint : `${hint} Then use Retry.`, temporary };
		for (const item of group) await settle(env, item, now(), failure);
		return;
	}
	const settings: SmtpSettings = login.settings;
	let session: StagedSession | null = null;
	let used = false;
	let sentOnSession = 0;
	const perSession = messagesPerSession(env);
	for (const [index, item] of group.entries()) {
		const started = now();
		if (session?.isOpen && sentOnSession >= perSession) {
			await session.quit(QUIT_TIMEOUT_MS);
			session = null;
		}
		if (session?.isOpen && used) {
			// RFC 5321 §4.1.1.5: a clean slate between messages on one session.
			const reset = await session.command('mail', 'RSET', OUTBOUND_REPLY_TIMEOUT_MS);
			if ('failure' in reset || reset.reply.code >= 400) session.abort();
		}
		if (!session?.isOpen) {
			const opened = await StagedSession.open({
				settings,
				allowPrivateHosts: env.ALLOW_PRIVATE_SMTP_HOSTS === 'true',
				budgetMs: OUTBOUND_LOGIN_BUDGET_MS,
				socketTimeoutMs: OUTBOUND_DATA_TIMEOUT_MS + 1_000,
				openSession: deps.openSession
			});
			session = opened.session;
			used = false;
			sentOnSession = 0;
			if (opened.refusal || opened.failure) {
				// A refused OAuth token may mean the access was withdrawn: then that is what to say (reconnect).
				const withdrawn = opened.failure?.stage === 'auth' ? await login.afterAuthRefused() : null;
				const outcome: AttemptResult = opened.refusal
					? configFailure(opened.refusal)
					: withdrawn
						? { ok: false, stage: 'auth', category: withdrawn.category, hint: withdrawn.hint, temporary: withdrawn.temporary, transcript: session.transcript.lines }
						: {
								...session.explain(opened.failure!),
								ok: false,
								stage: opened.failure!.stage,
								temporary: isTemporary(opened.failure!.failure, { dataSent: false }),
								transcript: session.transcript.lines
							};
				// The same settings would fail the same way for the rest of this batch's messages.
				for (const rest of group.slice(index)) await settle(env, rest, started, { ...outcome, durationMs: now().getTime() - started.getTime() });
				return;
			}
		}
		const linesBefore = session.transcript.lines.length;
		const raw = await env.MAIL_ARCHIVE.get(archiveKey(item.outbound.id));
		if (!raw) {
			await settle(env, item, started, configFailure('The composed message is no longer in the archive (it is kept 30 days). Send the reply again from the help desk.'));
			continue;
		}
		const { outbound } = item;
		const message = await raw.text();
		const unsafe = checkComposedHeaders(message);
		if (unsafe) {
			await settle(env, item, started, configFailure(`Not sent: this reply was composed before Mailgate checked inbound Message-IDs, and ${unsafe}, which may come from the message it answers. Send the reply again from the help desk.`));
			continue;
		}
		const result = await sendTransaction(session, {
			from: mailbox.address,
			recipients: [...outbound.to, ...outbound.cc, ...outbound.bcc],
			message,
			limits: { replyMs: OUTBOUND_REPLY_TIMEOUT_MS, dataMs: OUTBOUND_DATA_TIMEOUT_MS },
			beforeData: () => markDataStarted(env.DB, outbound.id, now().toISOString())
		});
		used = true;
		sentOnSession++;
		const transcript = session.transcript.lines.slice(linesBefore);
		const refused = result.refused.map(({ address, reply }) => refusedRecipient(address, reply, settings));
		if (result.ok) {
			await settle(env, item, started, {
				ok: true,
				stage: 'data',
				category: null,
				code: result.reply.code,
				enhancedCode: result.reply.enhancedCode,
				serverMessage: result.reply.raw,
				hint:
					refused.length > 0
						? `Accepted for ${result.accepted.length} of ${result.accepted.length + refused.length} recipients; the server refused ${refused.map((r) => r.address).join(', ')} (see below).`
						: 'The server accepted the message for delivery.',
				durationMs: now().getTime() - started.getTime(),
				transcript,
				refused
			});
			continue;
		}
		const explained = session.explain({ stage: result.stage, failure: result.failure });
		await settle(env, item, started, {
			...explained,
			ok: false,
			stage: result.stage,
			hint: result.dataSent ? mayHaveArrivedHint() : explained.hint,
			category: result.dataSent ? 'timeout' : explained.category,
			temporary: isTemporary(result.failure, { dataSent: result.dataSent }),
			mayHaveArrived: result.dataSent || undefined,
			durationMs: now().getTime() - started.getTime(),
			transcript,
			refused
		});
		session.abort();
	}
	await session?.quit(QUIT_TIMEOUT_MS);
}

/**
 * `OUTBOUND_MESSAGES_PER_SESSION`: some providers close a session after a number of messages
 * (or an admin wants one session per message, as bench/outbound compares). Unset: the batch.
 */
function messagesPerSession(env: Env): number {
	const value = Number(env.OUTBOUND_MESSAGES_PER_SESSION);
	return Number.isInteger(value) && value > 0 ? value : Number.POSITIVE_INFINITY;
}

type AttemptResult = Omit<OutboundAttempt, 'at' | 'durationMs'> & { durationMs?: number; refused?: RefusedRecipient[] };

function configFailure(hint: string): AttemptResult {
	return { ok: false, stage: 'connect', category: 'config', hint, temporary: false };
}

function refusedRecipient(address: string, reply: SmtpReply, settings: SmtpSettings): RefusedRecipient {
	const failure: Failure = { kind: 'reply', reply };
	const { hint } = classify({ stage: 'rcpt', failure, encryption: settings.encryption, port: settings.port, host: settings.host, timeoutSeconds: 30 });
	return { address, code: reply.code, enhancedCode: reply.enhancedCode, serverMessage: reply.raw, hint };
}

/**
 * The one place an attempt ends: the status it leads to (sent; deferred with the next time
 * from the retry table; failed), recorded with the attempt, then the queue message is acked.
 * A deferred message goes back on the queue with its delay (the sweep re-enqueues it if that
 * send is lost).
 */
async function settle(env: Env, item: { message: QueueMessage; outbound: StoredOutbound }, started: Date, result: AttemptResult): Promise<void> {
	const { refused, durationMs, transcript, ...rest } = result;
	const attempt: OutboundAttempt = {
		...rest,
		at: started.toISOString(),
		durationMs: durationMs ?? 0,
		transcript: transcript?.slice(-MAX_TRANSCRIPT_LINES).map((line) => line.slice(0, MAX_TRANSCRIPT_LINE))
	};
	const attemptsSoFar = item.outbound.attempts.length + 1;
	let outcome: AttemptOutcome;
	let delaySeconds: number | null = null;
	if (attempt.ok) {
		outcome = { status: 'sent', attempt, sentAt: new Date(started.getTime() + attempt.durationMs).toISOString(), refused };
	} else if (attempt.temporary) {
		const next = nextAttemptAt(attemptsSoFar, started);
		if (next) {
			outcome = { status: 'deferred', attempt, nextAttemptAt: next.toISOString() };
			delaySeconds = Math.round((next.getTime() - started.getTime()) / 1000);
		} else {
			attempt.hint = `${attempt.hint} Gave up after ${attemptsSoFar} attempts over about 10 hours.`;
			outcome = { status: 'failed', attempt };
		}
	} else {
		outcome = { status: 'failed', attempt, refused: refused?.length ? refused : undefined };
	}
	await finishAttempt(env, item.outbound, outcome);
	if (delaySeconds !== null) await enqueue(env, item.outbound.id, delaySeconds);
	item.message.ack();
}
