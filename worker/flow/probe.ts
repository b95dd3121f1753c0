/**
 * SPEC §13's probe: composed like a reply, sent as the mailbox through the one sending service
 * (send/mailbox-sender.ts) to its own service address, carrying `X-Mailgate-Probe: TOKEN`. What
 * the server said goes on the check's round trip; an accepted probe waits for recognise.ts.
 */
import { PROBE_TIMEOUT_SECONDS, type FlowCheck, type ProbeSend } from '../../src/lib/schema/flow-check';
import { patchRoundTrip } from '../db/flow-checks';
import type { StoredMailbox } from '../db/mailboxes';
import { busyAttempt, takeInteractiveSlot } from '../governor/interactive-slot';
import { composeMessage } from '../mail/compose';
import { sendingService, smtpLoginFor } from '../send/credentials';
import { openSender } from '../send/mailbox-sender';
import { ehloNameFor } from '../smtp/ehlo-name';
import { INTERACTIVE_TIMEOUTS } from '../send/timeouts';
import { acceptedPayload, failedPayload } from '../send/payload';
import type { Transport } from '../send/transport';
import { pauseForLimit } from '../outbound/pause';
import { PROBE_HEADER } from './recognise';
import type { Services } from '../services';

/**
 * Sends the probe and records what the server said. The send keeps to the SMTP test's budget
 * (INTERACTIVE_TIMEOUTS), well inside the 30 seconds waitUntil allows after the response.
 */
export async function sendProbe(
	services: Pick<Services, 'db' | 'config' | 'governor'>,
	{ check, token }: { check: FlowCheck; token: string },
	mailbox: StoredMailbox,
	deps: { now: () => Date; transport?: Transport }
): Promise<void> {
	const { now } = deps;
	const started = now();
	const sender = openSender({
		// The mailbox's password or OAuth access token (SPEC §12), as the SMTP test and replies get theirs.
		login: () => smtpLoginFor(services, mailbox, { now: () => now().getTime() }),
		timeouts: INTERACTIVE_TIMEOUTS,
		allowPrivateHosts: services.config.allowPrivateSmtpHosts,
		ehloName: ehloNameFor(services.config.smtpEhloName, mailbox.address),
		transport: deps.transport
	});
	const { raw } = composeProbe(mailbox, check.roundTrip.messageId, token, started);
	// SPEC §15: one of the mailbox's session slots, waiting up to 15 s for one while replies are sending.
	const slot = await takeInteractiveSlot(services, mailbox);
	const sent = slot ? await sender.send({ from: mailbox.address, recipients: [mailbox.address], raw }) : { ok: false as const, attempt: busyAttempt(mailbox) };
	const at = now();
	const durationMs = at.getTime() - started.getTime();
	// QUIT after a refusal too (a lost connection was dropped already).
	await sender.close();
	await slot?.release();
	// SPEC §15: the provider's limit answer pauses the mailbox, whoever met it.
	if (!sent.ok && sent.attempt.limit) await pauseForLimit(services.db, mailbox.id, sent.attempt, started);
	if (!sent.ok) {
		// The probe keeps the SMTP test's fields, not the transcript.
		const smtp = failedPayload(sent.attempt, durationMs);
		if (sent.attempt.mayHaveArrived) {
			// The probe went out and the answer was lost: it may still arrive, so keep waiting for it.
			await patchRoundTrip(services.db, check.id, { step: 'waiting', smtp: { ...smtp, category: 'timeout' }, says: waitingSays(mailbox) }, { fromSteps: ['sending'], at: at.toISOString() });
			return;
		}
		await patchRoundTrip(services.db, check.id, { result: 'fail', step: 'send_failed', smtp, says: sendFailedSays(mailbox, smtp) }, { fromSteps: ['sending'], at: at.toISOString() });
		return;
	}
	const smtp: ProbeSend = acceptedPayload(sent, `${sendingService(mailbox.smtp, true)} accepted the probe for delivery.`, durationMs);
	// On one machine the probe can be back before the server's 250 is: then only the send is added.
	const moved = await patchRoundTrip(services.db, check.id, { step: 'waiting', sentAt: at.toISOString(), smtp, says: waitingSays(mailbox) }, { fromSteps: ['sending'], at: at.toISOString() });
	if (!moved) await patchRoundTrip(services.db, check.id, { sentAt: at.toISOString(), smtp }, { fromSteps: ['arrived', 'timed_out'], at: at.toISOString() });
}

/** The probe: composed like a reply (From the mailbox, to its own address), marked by its token. */
export function composeProbe(mailbox: Pick<StoredMailbox, 'name' | 'address'>, messageId: string, token: string, date: Date) {
	return composeMessage({
		from: { name: mailbox.name, address: mailbox.address },
		to: [mailbox.address],
		cc: [],
		subject: 'Mailgate mail flow check',
		text:
			`Mailgate sent this message to check that mail from and to ${mailbox.address} works (Check mail flow).\r\n` +
			'It comes back to Mailgate by itself and is never handed to the help desk; if you see it anywhere, you may delete it.',
		attachments: [],
		messageId,
		inReplyTo: null,
		references: [],
		date,
		// RFC 3834 §5: an automatic message, so no auto-reply answers it.
		extraHeaders: { [PROBE_HEADER]: token, 'Auto-Submitted': 'auto-generated' }
	});
}

function sendFailedSays(mailbox: StoredMailbox, smtp: ProbeSend): string {
	return `${sendingService(mailbox.smtp, true)} did not take the probe (${smtp.stage}${smtp.serverMessage ? `: ${smtp.serverMessage}` : ''}), so replies cannot leave either. ${smtp.hint}`;
}

function waitingSays(mailbox: StoredMailbox): string {
	return `${sendingService(mailbox.smtp, true)} accepted the probe; waiting for it to come back to ${mailbox.address} through Email Routing (up to ${PROBE_TIMEOUT_SECONDS} seconds).`;
}
