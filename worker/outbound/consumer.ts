/**
 * The OUTBOUND_QUEUE consumer (SPEC §10 "Delivery"): the queue carries ids; each message is
 * claimed in D1 (so a redelivered queue message never sends one already `sent`), and a batch's
 * messages for one mailbox go out over one SMTP session (RSET only after a transaction that did
 * not end cleanly), a new session only after a failure closed it. Every attempt is recorded,
 * classified like the SMTP test. The queue skeleton is the shared one (worker/jobs/consume.ts:
 * claim, settle, the one place a queue message is acked or retried); this file supplies the
 * reply's claim, its record of a settlement, its retry table and its attempt (`sendGroup`).
 */
import type { OutboundAttempt, RefusedRecipient } from '../../src/lib/schema/outbound';
import { findMailbox, type StoredMailbox } from '../db/mailboxes';
import { claimOutbound, markDataStarted, type AttemptOutcome, type StoredOutbound } from '../db/outbound';
import { consume, hold as holdJob, settle as settleJob, type Job, type JobQueueMessage } from '../jobs/consume';
import { REPLY_RETRY_DELAYS_SECONDS, type Settlement } from '../jobs/schedule';
import { finishAttempt } from './status';
import { sendingService, smtpLoginFor } from '../send/credentials';
import { openSender } from '../send/mailbox-sender';
import { ehloNameFor } from '../smtp/ehlo-name';
import { QUEUE_TIMEOUTS } from '../send/timeouts';
import { acceptedPayload, failedPayload } from '../send/payload';
import { waitAskedSeconds, type OutgoingMessage, type SendAttempt, type Transport } from '../send/transport';
import { checkComposedHeaders } from '../mail/composed-headers';
import { lookAgainAt, mayHaveArrivedHint } from './lease';
import { pauseForLimit, pausedUntil } from './pause';
import { inQueueOrder, pacingFor, type Pacing, type PacingOptions } from './pacing';
import { olderWaiting, renewClaim } from '../db/outbound-order';
import type { Services } from '../services';
import { moveComposedToArchive, readComposedReply } from './composed';

/** Lines of the dialogue kept per attempt: enough to see every step, bounded for the D1 row. */
const MAX_TRANSCRIPT_LINES = 60;
const MAX_TRANSCRIPT_LINE = 500;

export interface ConsumerDependencies {
	now?: () => Date;
	/** Replaces SMTP over cloudflare:sockets (tests). */
	transport?: Transport;
	/** SPEC §15's pacing (tests shorten the rate window). */
	pacing?: PacingOptions;
}

/** A claimed reply with the queue message that brought it, as sendGroup settles it. */
type Item = { message: JobQueueMessage; outbound: StoredOutbound };
type ReplyJob = Job<StoredOutbound, AttemptResult>;

export async function consumeOutbound(messages: readonly JobQueueMessage[], services: Services, deps: ConsumerDependencies = {}): Promise<void> {
	const now = deps.now ?? (() => new Date());
	const job = replyJob(services, now);
	await consume(messages, job, async (claimed) => {
		// A batch's replies from one mailbox share one SMTP session.
		const byMailbox = new Map<string | null, Item[]>();
		for (const { message, row } of claimed) {
			const group = byMailbox.get(row.mailboxId) ?? [];
			group.push({ message, outbound: row });
			byMailbox.set(row.mailboxId, group);
		}
		for (const [mailboxId, group] of byMailbox) await sendGroup(services, mailboxId, group, now, deps, job);
	});
}

function replyJob(services: Pick<Services, 'db' | 'queues'>, now: () => Date): ReplyJob {
	return {
		queue: services.queues.replies,
		retryDelays: REPLY_RETRY_DELAYS_SECONDS,
		now,
		claim: (id, at) => claimOutbound(services.db, id, at),
		whenUnclaimed: (id, at) => lookAgainAt(services, id, at),
		verdict: (result) => (result.ok ? 'succeeded' : result.temporary ? 'temporary' : 'permanent'),
		notBefore: (result, started) => (result.retryAfterSeconds === undefined ? null : new Date(started.getTime() + result.retryAfterSeconds * 1000)),
		record: (outbound, result, settlement, started) => finishAttempt(services, outbound, replyOutcome(result, settlement, started)),
		attemptsCounted: countedAttempts,
		// SPEC §15: held by the governor, the reply is queued again, untried (next_attempt_at: when the sweep may look).
		putBack: (outbound, at) => finishAttempt(services, outbound, { status: 'queued', attempt: null, nextAttemptAt: at.toISOString() })
	};
}

async function sendGroup(
	services: Services,
	mailboxId: string | null,
	group: Item[],
	now: () => Date,
	deps: ConsumerDependencies,
	job: ReplyJob
): Promise<void> {
	const mailbox = mailboxId ? await findMailbox(services.db, mailboxId) : null;
	if (!mailbox) {
		for (const item of group) await settle(job, item, now(), configFailure('The mailbox this reply was sent from has been deleted, so it cannot leave.'));
		return;
	}
	// SPEC §15: a mailbox its provider paused sends nothing: its replies wait, untried, until the provider's time.
	const paused = pausedUntil(mailbox, now());
	if (paused) {
		for (const item of group) await holdJob(job, { message: item.message, row: item.outbound }, paused);
		return;
	}
	// SPEC §15: a session slot first, and a send from the mailbox's window before each message, oldest first.
	const pacing = pacingFor(services, mailbox, deps.pacing);
	const slot = await pacing.session();
	if (!slot.go) return holdBack(job, pacing, group, now, slot.waitMs);
	group.push(...(await olderReplies(services.db, mailbox.id, group, now())));
	group.sort((a, b) => inQueueOrder(a.outbound, b.outbound));
	try {
		await sendPaced(services, mailbox, group, now, deps, job, pacing);
	} finally {
		await pacing.release(group.map((item) => item.outbound));
	}
}

async function sendPaced(
	services: Services,
	mailbox: StoredMailbox,
	group: Item[],
	now: () => Date,
	deps: ConsumerDependencies,
	job: ReplyJob,
	pacing: Pacing
): Promise<void> {
	const { config } = services;
	// One session for the batch's messages of this mailbox, pipelined where offered (send/mailbox-sender.ts).
	const sender = openSender({
		login: () => smtpLoginFor(services, mailbox, { now: () => now().getTime() }),
		timeouts: QUEUE_TIMEOUTS,
		allowPrivateHosts: config.allowPrivateSmtpHosts,
		ehloName: ehloNameFor(config.smtpEhloName, mailbox.address),
		messagesPerSession: config.outboundMessagesPerSession,
		transport: deps.transport
	});
	// Each reply is made ready (its turn from the governor, its bytes from the archive) once; the next
	// one while this one is under way, so a pipelining session can send it right behind (RFC 2920 §3.1).
	const preparations = new Map<number, Promise<Prepared>>();
	const prepareAt = (index: number): Promise<Prepared> => {
		let prepared = preparations.get(index);
		if (!prepared) {
			prepared = prepare(services, mailbox, group, index, now, pacing, () => prepareAt(index + 1));
			preparations.set(index, prepared);
		}
		return prepared;
	};
	// Outcomes are recorded in order. A sent reply's record is written while the next reply goes out
	// (nothing in that send waits for it); any other outcome is recorded before the batch goes on.
	let recording: Promise<void> = Promise.resolve();
	const record = (item: Item, started: Date, result: AttemptResult): Promise<void> => {
		recording = recording.then(() => settle(job, item, started, result));
		recording.catch(() => {});
		return recording;
	};
	try {
		for (const [index, item] of group.entries()) {
			const prepared = await prepareAt(index);
			if (prepared.kind === 'hold') {
				await recording;
				await holdBack(job, pacing, group.slice(index), now);
				break;
			}
			if (prepared.kind === 'lost') continue;
			// The attempt starts when its own send does (a reply made ready ahead waited for the one before).
			const started = now();
			if (prepared.kind === 'fail') {
				await record(item, started, configFailure(prepared.hint));
				continue;
			}
			const readiness = await sender.ready();
			if (!readiness.ok) {
				// The same settings would fail the same way for the rest of this batch's messages.
				const failure = attemptResult(readiness.attempt, now().getTime() - started.getTime());
				if (readiness.attempt.limit) {
					await record(item, started, failure);
					return await pauseAndHold(services, job, mailbox, readiness.attempt, started, group.slice(index + 1));
				}
				for (const rest of group.slice(index)) await record(rest, started, failure);
				return;
			}
			const sent = await sender.send(prepared.message);
			const durationMs = now().getTime() - started.getTime();
			if (sent.ok) {
				const { refused } = sent;
				const hint =
					refused.length > 0
						? `Accepted for ${sent.accepted.length} of ${sent.accepted.length + refused.length} recipients; the server refused ${refused.map((r) => r.address).join(', ')} (see below).`
						: `${sendingService(mailbox.smtp, true)} accepted the message for delivery.`;
				void record(item, started, { ...acceptedPayload(sent, hint, durationMs), transcript: sent.transcript, refused });
				continue;
			}
			await record(item, started, attemptResult(sent.attempt, durationMs));
			if (sent.attempt.limit) {
				await pauseAndHold(services, job, mailbox, sent.attempt, started, group.slice(index + 1));
				break;
			}
		}
	} finally {
		// A reply made ready ahead and then held or paused: its turn is over before the slot is freed.
		await Promise.allSettled(preparations.values());
		await Promise.all([recording, sender.close()]);
	}
}

/** A reply made ready to leave: its message, or why it fails at once, or held back (no turn), or no longer ours. */
type Prepared =
	| { kind: 'send'; message: OutgoingMessage }
	| { kind: 'fail'; hint: string }
	| { kind: 'hold' }
	/** Its lease ran out while it waited and the row was taken back: another attempt has it. */
	| { kind: 'lost' };

/**
 * Makes `group[index]` ready: its turn (after the reply before it in this batch, which may still
 * be under way), then its composed bytes. Nothing is recorded here: the loop settles, in order.
 */
async function prepare(
	services: Services,
	mailbox: StoredMailbox,
	group: Item[],
	index: number,
	now: () => Date,
	pacing: Pacing,
	next: () => Promise<Prepared>
): Promise<Prepared> {
	const { outbound } = group[index]!;
	const turn = await pacing.turn(
		outbound,
		group.slice(0, index).map((item) => item.outbound)
	);
	if (!turn.go) return { kind: 'hold' };
	// Its lease counts from now: it may have waited behind the batch's others (SENDING_LEASE_MS).
	const claim = await renewClaim(services.db, outbound, now());
	if (!claim) return { kind: 'lost' };
	const raw = await readComposedReply(services, outbound.id, claim.composedInRow);
	if (raw === null) return { kind: 'fail', hint: 'The composed message is no longer in the archive (it is kept 30 days). Send the reply again from the help desk.' };
	// Kept in its row since POST (outbound/composed.ts): into R2 now, for the 30 days after it leaves.
	if (claim.composedInRow !== null) await moveComposedToArchive(services, outbound, raw);
	const unsafe = checkComposedHeaders(raw);
	if (unsafe) {
		return {
			kind: 'fail',
			hint: `Not sent: this reply was composed before Mailgate checked inbound Message-IDs, and ${unsafe}, which may come from the message it answers. Send the reply again from the help desk.`
		};
	}
	const message: OutgoingMessage = {
		from: mailbox.address,
		recipients: [...outbound.to, ...outbound.cc, ...outbound.bcc],
		bcc: outbound.bcc,
		raw,
		beforeData: () => markDataStarted(services.db, outbound.id, now().toISOString()),
		following:
			index + 1 < group.length
				? async () => {
						const upcoming = await next().catch(() => null);
						return upcoming?.kind === 'send' ? upcoming.message : null;
					}
				: undefined
	};
	return { kind: 'send', message };
}

/** The most older replies a batch takes along: a full batch (wrangler.toml max_batch_size). */
const MAX_TAKEN_ALONG = 25;

/**
 * SPEC §15 sends a mailbox's replies in the order they were queued, and Cloudflare Queues does not
 * deliver in order: a batch would hold a reply back (seconds, on a delayed queue message) for an
 * older one the queue has not brought yet. So the batch takes along the mailbox's older replies
 * still waiting for their first turn, or held back until a time now past (a held reply whose
 * queue message is lost would otherwise hold the newer ones until the sweep), claimed as its own.
 * Their queue messages, when they come, find them taken (outbound/lease.ts). A claimed one's
 * retry or hold gets a new queue message.
 */
async function olderReplies(db: D1Database, mailboxId: string, group: readonly Item[], at: Date): Promise<Item[]> {
	const newest = group.reduce((latest, item) => (inQueueOrder(item.outbound, latest) > 0 ? item.outbound : latest), group[0]!.outbound);
	const ids = await olderWaiting(db, mailboxId, newest, group.map((item) => item.outbound.id), MAX_TAKEN_ALONG, at);
	const claimed = await Promise.all(ids.map((id) => claimOutbound(db, id, at)));
	return claimed.filter((outbound) => outbound !== null).map((outbound) => ({ message: takenAlong(outbound.id), outbound }));
}

/** The queue message of a reply taken along: its own comes later and is answered then, so this one's answer goes nowhere. */
const takenAlong = (id: string): JobQueueMessage => ({ body: { id }, ack: () => {}, retry: () => {} });

/** Replies the mailbox has no room for: each back on the queue when its turn is expected (SPEC §15). */
async function holdBack(job: ReplyJob, pacing: Pacing, items: Item[], now: () => Date, atLeastMs?: number): Promise<void> {
	const waits = await pacing.hold(items.map((item) => item.outbound), atLeastMs);
	const at = now().getTime();
	for (const item of items) await holdJob(job, { message: item.message, row: item.outbound }, new Date(at + (waits[item.outbound.id] ?? 0)));
}

/** SPEC §15: a limit answer pauses the mailbox; the batch's other replies from it wait, untried, until then. */
async function pauseAndHold(services: Services, job: ReplyJob, mailbox: StoredMailbox, attempt: SendAttempt, started: Date, rest: Item[]): Promise<void> {
	const until = await pauseForLimit(services.db, mailbox.id, attempt, started);
	for (const item of rest) await holdJob(job, { message: item.message, row: item.outbound }, until);
}

/**
 * SPEC §15: a provider's limit answer is a wait, not a failure: it does not use up the retry
 * table (else a daily quota, an hour at a time, would fail the reply within the table's 10
 * hours). A reply still held by limits two days after it was queued has waited longer than any
 * known quota lasts (Microsoft's and Google's free themselves within 24 hours): then every attempt
 * counts, and it gives up.
 */
export const MAX_LIMIT_WAIT_MS = 48 * 3600_000;

function countedAttempts(outbound: StoredOutbound, at: Date): number {
	if (at.getTime() - Date.parse(outbound.createdAt) > MAX_LIMIT_WAIT_MS) return outbound.attempts.length;
	return outbound.attempts.filter((attempt) => !attempt.limit).length;
}

type AttemptResult = Omit<OutboundAttempt, 'at' | 'durationMs'> & { durationMs?: number; refused?: RefusedRecipient[]; retryAfterSeconds?: number };

/**
 * A failed send as a reply's attempt. A login that could not be made or settings that cannot work
 * fail at once (Retry after the fix); data that went out unanswered may have arrived and is never
 * sent again by itself (SPEC §10).
 */
function attemptResult(attempt: SendAttempt, durationMs: number): AttemptResult {
	const { category, hint, temporary, transcript, mayHaveArrived, refused, credential } = attempt;
	return {
		...failedPayload(attempt, durationMs),
		category: mayHaveArrived ? 'timeout' : category,
		// An API send's own words name the Sent Items to check (api-answers.ts noAnswerHint).
		hint: mayHaveArrived ? (attempt.stage === 'send' ? hint : mayHaveArrivedHint()) : credential && !temporary ? `${hint} Then use Retry.` : hint,
		temporary,
		mayHaveArrived: mayHaveArrived || undefined,
		transcript: transcript.length > 0 ? transcript : undefined,
		refused,
		...retryAfter(waitAskedSeconds(attempt))
	};
}

const retryAfter = (seconds: number | undefined) => (seconds === undefined ? {} : { retryAfterSeconds: seconds });

function configFailure(hint: string): AttemptResult {
	return { ok: false, stage: 'connect', category: 'config', hint, temporary: false };
}

/** Ends one reply's attempt on the shared skeleton (worker/jobs/consume.ts `settle`). */
function settle(job: ReplyJob, item: Item, started: Date, result: AttemptResult): Promise<void> {
	return settleJob(job, { message: item.message, row: item.outbound }, result, started);
}

/**
 * A settlement as the reply's status (SPEC §10): sent; deferred until the retry table's next
 * time; failed when permanent, or after the table's last delay (saying so), with the attempt.
 */
function replyOutcome(result: AttemptResult, settlement: Settlement, started: Date): AttemptOutcome {
	const { refused, durationMs, transcript, retryAfterSeconds: _retryAfter, ...rest } = result;
	const attempt: OutboundAttempt = {
		...rest,
		at: started.toISOString(),
		durationMs: durationMs ?? 0,
		transcript: transcript?.slice(-MAX_TRANSCRIPT_LINES).map((line) => line.slice(0, MAX_TRANSCRIPT_LINE))
	};
	switch (settlement.kind) {
		case 'done':
			return { status: 'sent', attempt, sentAt: new Date(started.getTime() + attempt.durationMs).toISOString(), refused };
		case 'retry':
			return { status: 'deferred', attempt, nextAttemptAt: settlement.at.toISOString() };
		case 'give-up':
			if (settlement.reason === 'permanent') return { status: 'failed', attempt, refused: refused?.length ? refused : undefined };
			// SPEC §15: limit answers only count once the reply has waited two days (countedAttempts).
			if (attempt.limit) return { status: 'failed', attempt: { ...attempt, hint: `${attempt.hint} Gave up: the provider's limit held this reply for more than two days.` } };
			return { status: 'failed', attempt: { ...attempt, hint: `${attempt.hint} Gave up after ${settlement.attempts} attempts over about 10 hours.` } };
	}
}
