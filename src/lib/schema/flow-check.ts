/**
 * SPEC §13: the mail flow check. The domain's DNS (MX, SPF, DMARC, DKIM) as findings, and a
 * round trip: a probe sent through the mailbox's SMTP server to its own service address,
 * timed until Email Routing hands it to the Worker, with the authentication verdict it got.
 * Written once here for the Worker, the app and its offline copy.
 */
import { z } from 'zod';
import { timestampSchema } from './fields';
import { sendOutcomeSchema } from './send-outcome';

/** How long the probe may take to come back before the check says it did not (SPEC §13). */
export const PROBE_TIMEOUT_SECONDS = 120;

export const findingResultValues = ['ok', 'warn', 'fail', 'unknown'] as const;
export type FindingResult = (typeof findingResultValues)[number];

/** One DNS finding: the verdict, what was found (records, hosts), and what it means. */
export const dnsFindingSchema = z.object({
	result: z.enum(findingResultValues),
	found: z.array(z.string()),
	/** One or two plain sentences: what it means and what to change. */
	says: z.string()
});
export type DnsFinding = z.infer<typeof dnsFindingSchema>;

export const dnsPartValues = ['mx', 'spf', 'dmarc', 'dkim'] as const;
export type DnsPart = (typeof dnsPartValues)[number];

export const dnsFindingsSchema = z.object({
	mx: dnsFindingSchema,
	spf: dnsFindingSchema,
	dmarc: dnsFindingSchema,
	dkim: dnsFindingSchema
});
export type DnsFindings = z.infer<typeof dnsFindingsSchema>;

/** The labels the checklist shows, in its order. */
export const dnsPartLabels: Record<DnsPart, string> = {
	mx: 'MX: mail to the address reaches Cloudflare Email Routing',
	spf: 'SPF: the SMTP server may send for the domain',
	dmarc: 'DMARC: the domain publishes a policy',
	dkim: 'DKIM: replies are signed for the domain'
};

/**
 * Where the round trip is: `sending` (the probe is being handed to the SMTP server), `waiting`
 * (accepted, not back yet), then `arrived`, `send_failed` (the SMTP server refused it) or
 * `timed_out` (not back within PROBE_TIMEOUT_SECONDS).
 */
export const roundTripStepValues = ['sending', 'waiting', 'arrived', 'send_failed', 'timed_out'] as const;
export type RoundTripStep = (typeof roundTripStepValues)[number];

const authValue = z.enum(['pass', 'fail', 'softfail', 'neutral', 'none', 'temperror', 'permerror']);

/** What the SMTP server said to the probe, explained like an SMTP test (SPEC §4; send-outcome.ts). */
export const probeSendSchema = sendOutcomeSchema;
export type ProbeSend = z.infer<typeof probeSendSchema>;

export const roundTripSchema = z.object({
	result: z.enum(['running', 'ok', 'warn', 'fail']),
	step: z.enum(roundTripStepValues),
	says: z.string(),
	/** The service address the probe was sent to, and its Message-ID (without <>). */
	to: z.string(),
	messageId: z.string(),
	/** When the SMTP server accepted the probe. */
	sentAt: timestampSchema.nullable(),
	smtp: probeSendSchema.nullable(),
	arrivedAt: timestampSchema.nullable(),
	/** From the start of the check to the probe's arrival. */
	durationMs: z.number().nullable(),
	/** SPF, DKIM and DMARC as Mailgate's own inbound checks judged the probe: what customers' servers will think of replies. */
	auth: z.object({ spf: authValue, dkim: authValue, dmarc: authValue }).nullable(),
	/** The probe's row in the email log. */
	logId: z.string().nullable(),
	/** A probe that came back after the check had given up. */
	lateArrivalAt: timestampSchema.nullable().optional()
});
export type RoundTrip = z.infer<typeof roundTripSchema>;

export const flowCheckSchema = z.object({
	id: z.string(),
	mailboxId: z.string(),
	startedAt: timestampSchema,
	finishedAt: timestampSchema.nullable(),
	/** The probe counts only if it arrives before this (PROBE_TIMEOUT_SECONDS after the start). */
	expiresAt: timestampSchema,
	status: z.enum(['running', 'done']),
	/** Null until the DNS lookups have answered. */
	dns: dnsFindingsSchema.nullable(),
	roundTrip: roundTripSchema,
	/** The worst of the parts (an `unknown` DNS part, which Mailgate cannot judge, does not count); `running` until done. */
	result: z.enum(['running', 'ok', 'warn', 'fail'])
});
export type FlowCheck = z.infer<typeof flowCheckSchema>;
export type FlowCheckResult = FlowCheck['result'];

/** The latest check shown with a mailbox (`lastFlowCheck`, beside `lastSmtpTest`). */
export const flowCheckSummarySchema = flowCheckSchema.pick({ id: true, status: true, result: true, startedAt: true, finishedAt: true });
export type FlowCheckSummary = z.infer<typeof flowCheckSummarySchema>;

const ORDER: Record<FlowCheckResult, number> = { ok: 0, warn: 1, fail: 2, running: -1 };

/** The worst of the parts; `running` while the check is. Pure, shared by the Worker and the app. */
export function overallResult(check: Pick<FlowCheck, 'status' | 'dns' | 'roundTrip'>): FlowCheckResult {
	if (check.status === 'running') return 'running';
	const parts: FlowCheckResult[] = [check.roundTrip.result === 'running' ? 'fail' : check.roundTrip.result];
	for (const part of dnsPartValues) {
		const result = check.dns?.[part].result ?? 'unknown';
		if (result !== 'unknown') parts.push(result);
	}
	return parts.reduce((worst, part) => (ORDER[part] > ORDER[worst] ? part : worst), 'ok');
}
