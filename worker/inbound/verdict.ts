/**
 * The verdict on an inbound message (SPEC §5): plain facts in (whom it was sent to, what the
 * DMARC policy says, whether it is internal mail, how it was forwarded, the mailbox's policy
 * for manual forwards), accepted, quarantined or rejected with the reason out. Pure; the
 * email() pipeline (handle-email.ts) gathers the facts and acts on the verdict.
 */
import type { Mailbox } from '../../src/lib/schema/mailbox';
import { manualForwardRejectReason, type ForwardingClass } from './forwarding';
import type { Verdict } from './policy';

export type VerdictFacts =
	/** SPEC §5.1: only configured service addresses, never aliases (sub-addresses) of them. */
	| { recipient: 'alias' | 'unknown'; envelopeTo: string }
	| {
			recipient: 'service';
			/** The DMARC policy's outcome (policy.ts applyDmarcPolicy). */
			policy: { verdict: Verdict; reason: string | null };
			/**
			 * SPEC §13, §16: a mail flow probe or the SMTP test's message, sent by Mailgate to itself.
			 * Never refused: a refusal would bounce back here, and the check wants to see the result.
			 */
			internal: boolean;
			forwarding: ForwardingClass;
			/** SPEC §5.4, §9: what the mailbox does with a message forwarded by hand. */
			manualForward: Mailbox['manualForward'];
	  };

export type InboundVerdict =
	/** `reason`: what the sender's server sees (an SMTP reply for the recipient and DMARC refusals). */
	| { verdict: 'rejected'; reason: string }
	| { verdict: 'accepted' | 'quarantined'; reason: string | null };

/** Mail to an address that is not a service address is always refused. */
export function decideVerdict(facts: Extract<VerdictFacts, { recipient: 'alias' | 'unknown' }>): Extract<InboundVerdict, { verdict: 'rejected' }>;
export function decideVerdict(facts: VerdictFacts): InboundVerdict;
export function decideVerdict(facts: VerdictFacts): InboundVerdict {
	if (facts.recipient !== 'service') {
		const why = facts.recipient === 'alias' ? 'aliases (sub-addresses) are not supported; write to the service address itself' : 'this address is not a service address of this help desk';
		return { verdict: 'rejected', reason: `550 5.1.1 <${facts.envelopeTo}>: ${why}` };
	}
	const { policy } = facts;
	if (policy.verdict === 'rejected') {
		// Internal mail that fails DMARC is kept apart for the admin to see, never refused.
		return facts.internal ? { verdict: 'quarantined', reason: policy.reason } : { verdict: 'rejected', reason: policy.reason ?? 'refused' };
	}
	if (!facts.internal && facts.forwarding === 'manual' && facts.manualForward === 'reject') {
		return { verdict: 'rejected', reason: manualForwardRejectReason() };
	}
	return { verdict: policy.verdict, reason: policy.reason };
}

/** SPEC §5.1: a sub-address (`local+tag@domain`) is never a service address. */
export function isAlias(envelopeTo: string): boolean {
	return (envelopeTo.split('@')[0] ?? '').includes('+');
}
