/**
 * The DMARC verdict (SPEC §5.3): reject what fails DMARC under p=reject, quarantine under
 * p=quarantine, record it under p=none; a valid ARC chain sealed by a trusted sealer rescues a
 * failure that forwarding caused. Pure.
 */
import type { AuthVerdict } from './authenticate';

export type Verdict = 'accepted' | 'quarantined' | 'rejected';

export interface PolicyOutcome {
	verdict: Verdict;
	/** Why, in the words the sender's server (or the admin) sees; null when nothing to say. */
	reason: string | null;
	arcOverride: boolean;
}

/** Comma-separated TRUSTED_ARC_SEALERS, lower-cased. */
export function parseTrustedSealers(value: string | undefined): string[] {
	return (value ?? '')
		.split(',')
		.map((entry) => entry.trim().toLowerCase())
		.filter(Boolean);
}

export function applyDmarcPolicy(auth: AuthVerdict, trustedSealers: readonly string[]): PolicyOutcome {
	const { dmarc, arc } = auth;
	if (dmarc.result !== 'fail') return { verdict: 'accepted', reason: null, arcOverride: false };
	const sealer = arc.sealer?.toLowerCase() ?? null;
	if (arc.result === 'pass' && sealer && trustedSealers.some((trusted) => sealer === trusted || sealer.endsWith(`.${trusted}`))) {
		return {
			verdict: 'accepted',
			reason: `DMARC failed, but a valid ARC chain sealed by ${arc.sealer} (a trusted forwarder) shows it passed before forwarding.`,
			arcOverride: true
		};
	}
	const domain = dmarc.domain ?? 'the sender’s domain';
	if (dmarc.policy === 'reject') {
		return {
			verdict: 'rejected',
			reason: `550 5.7.1 Unauthenticated email from ${domain} is not accepted due to domain's DMARC policy`,
			arcOverride: false
		};
	}
	if (dmarc.policy === 'quarantine') {
		return { verdict: 'quarantined', reason: `DMARC failed for ${domain}, whose policy is quarantine.`, arcOverride: false };
	}
	return { verdict: 'accepted', reason: `DMARC failed for ${domain}; its policy is none, so the message was accepted.`, arcOverride: false };
}
