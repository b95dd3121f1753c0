/**
 * The OUTBOUND_QUEUE consumer (SPEC §10 "Delivery"): the queue carries ids; each message is
 * claimed in D1 (so a redelivered queue message never sends one already `sent`), and a batch's
 * messages for one mailbox go out over one SMTP session, RSET between them, a new session only
 * after a failure closed it. Every attempt is recorded, classified like the SMTP test. The one
 * place that acks, defers or gives up is `settle`.
 */
import type { OutboundAttempt, RefusedRecipient } from '../../src/lib/schema/outbound';
import { readConfig } from '../config';
import { findMailbox } from '../db/mailboxes';
import { claimOutbound, findOutbound, markDataStarted, type AttemptOutcome, type StoredOutbound } from '../db/outbound';
import { finishAttempt } from './status';
import { smtpLoginFor } from '../send/credentials';
import { openSender } from '../send/mailbox-sender';
import { longestAttemptMs, QUEUE_TIMEOUTS } from '../send/timeouts';
import type { SendAttempt, Transport } from '../send/transport';
import { archiveKey, enqueue } from './create';
import { checkComposedHeaders } from '../mail/composed-headers';
import { nextAttemptAt } from './retry-policy';

export interface OutboundQueueMessage {
	id: string;
}

/**
 * How long one message may stay `sending` before it counts as abandoned (the Worker stopped
 * mid-attempt): longer than the slowest attempt (login budget, the replies, the data).
 */
export const SENDING_LEASE_MS = longestAttemptMs(QUEUE_TIMEOUTS) + 60_000;

/** Lines of the dialogue kept per attempt: enough to see every step, bounded for the D1 row. */
const MAX_TRANSCRIPT_LINES = 60;
const MAX_TRANSCRIPT_LINE = 500;

export interface ConsumerDependencies {
	now?: () => Date;
	/** Replaces SMTP over cloudflare:sockets (tests). */
	transport?: Transport;
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
	const config = readConfig(env);
	// One session for the batch's messages of this mailbox, RSET between them (send/mailbox-sender.ts).
	const sender = openSender({
		login: () => smtpLoginFor(env, mailbox, { now: () => now().getTime() }),
		timeouts: QUEUE_TIMEOUTS,
		allowPrivateHosts: config.allowPrivateSmtpHosts,
		messagesPerSession: config.outboundMessagesPerSession,
		transport: deps.transport
	});
	for (const [index, item] of group.entries()) {
		const started = now();
		const readiness = await sender.ready();
		if (!readiness.ok) {
			// The same settings would fail the same way for the rest of this batch's messages.
			const failure = attemptResult(readiness.attempt);
			for (const rest of group.slice(index)) await settle(env, rest, started, { ...failure, durationMs: now().getTime() - started.getTime() });
			return;
		}
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
		const sent = await sender.send({
			from: mailbox.address,
			recipients: [...outbound.to, ...outbound.cc, ...outbound.bcc],
			raw: message,
			beforeData: () => markDataStarted(env.DB, outbound.id, now().toISOString())
		});
		const durationMs = now().getTime() - started.getTime();
		if (sent.ok) {
			const { refused } = sent;
			await settle(env, item, started, {
				ok: true,
				stage: 'data',
				category: null,
				code: sent.code,
				enhancedCode: sent.enhancedCode,
				serverMessage: sent.serverMessage,
				hint:
					refused.length > 0
						? `Accepted for ${sent.accepted.length} of ${sent.accepted.length + refused.length} recipients; the server refused ${refused.map((r) => r.address).join(', ')} (see below).`
						: 'The server accepted the message for delivery.',
				durationMs,
				transcript: sent.transcript,
				refused
			});
			continue;
		}
		await settle(env, item, started, { ...attemptResult(sent.attempt), durationMs });
	}
	await sender.close();
}

type AttemptResult = Omit<OutboundAttempt, 'at' | 'durationMs'> & { durationMs?: number; refused?: RefusedRecipient[] };

/**
 * A failed send as a reply's attempt. A login that could not be made or settings that cannot work
 * fail at once (Retry after the fix); data that went out unanswered may have arrived and is never
 * sent again by itself (SPEC §10).
 */
function attemptResult(attempt: SendAttempt): AttemptResult {
	const { stage, category, hint, temporary, code, enhancedCode, serverMessage, transcript, mayHaveArrived, refused, credential } = attempt;
	return {
		ok: false,
		stage,
		category: mayHaveArrived ? 'timeout' : category,
		code,
		enhancedCode,
		serverMessage,
		hint: mayHaveArrived ? mayHaveArrivedHint() : credential && !temporary ? `${hint} Then use Retry.` : hint,
		temporary,
		mayHaveArrived: mayHaveArrived || undefined,
		transcript: transcript.length > 0 ? transcript : undefined,
		refused
	};
}

function configFailure(hint: string): AttemptResult {
	return { ok: false, stage: 'connect', category: 'config', hint, temporary: false };
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
