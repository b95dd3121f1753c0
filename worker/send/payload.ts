/**
 * A send's outcome as the payloads show it (src/lib/schema/send-outcome.ts): the SMTP test's
 * result, a reply's attempt and the probe's send all start from these fields and add their own.
 */
import type { SendOutcomePayload } from '../../src/lib/schema/send-outcome';
import type { SendAttempt, SendOutcome } from './transport';

/** An accepted message: the server's final answer, and the caller's words for it. */
export function acceptedPayload(sent: Extract<SendOutcome, { ok: true }>, hint: string, durationMs: number): SendOutcomePayload {
	const { code, enhancedCode, serverMessage, providerMessageId } = sent;
	// SPEC §14: an API send's last stage is `send`; SMTP's is the message data.
	const stage = sent.via === 'api' ? 'send' : 'data';
	return { ok: true, stage, category: null, code, enhancedCode, serverMessage, ...(providerMessageId ? { providerMessageId } : {}), hint, durationMs };
}

/** A failed attempt: where it stopped, why, and what the server said. */
export function failedPayload(attempt: SendAttempt, durationMs: number): SendOutcomePayload {
	const { stage, category, code, enhancedCode, serverMessage, hint, limit } = attempt;
	return { ok: false, stage, category, code, enhancedCode, serverMessage, hint, durationMs, ...(limit ? { limit } : {}) };
}
