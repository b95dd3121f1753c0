/**
 * Authentication results (SPEC §5.2) in one plain sentence each, as the message page shows them
 * beside the badges: what was checked, for which domain, and what the result means.
 */
import type { AuthDetails } from '$lib/schema/message';

type Spf = AuthDetails['spf'];
type DkimSignature = AuthDetails['dkim'][number];
type Dmarc = AuthDetails['dmarc'];
type Arc = AuthDetails['arc'];

export function spfSentence(spf: Spf): string {
	const ip = spf.clientIp ?? 'the sending server';
	const domain = spf.domain ?? 'the sender’s domain';
	switch (spf.result) {
		case 'pass':
			return `SPF passed: ${ip} is allowed to send for ${domain}.`;
		case 'fail':
			return `SPF failed: ${domain} does not allow ${ip} to send for it.`;
		case 'softfail':
			return `SPF soft-failed: ${domain} says ${ip} is probably not allowed to send for it (~all).`;
		case 'neutral':
			return `SPF neutral: ${domain} says nothing about whether ${ip} may send for it.`;
		case 'none':
			return spf.domain ? `No SPF: ${domain} publishes no SPF record.` : 'SPF was not checked.';
		case 'temperror':
			// RFC 7208 §2.6.6: a DNS failure is a temporary error, never a pass.
			return `SPF could not be checked: a DNS lookup for ${domain} failed temporarily (this never counts as a pass).`;
		case 'permerror':
			return `SPF error: the SPF record of ${domain} is broken, so it authorises no server.`;
		default:
			return `SPF result for ${domain}: ${spf.result}.`;
	}
}

function signer(signature: DkimSignature): string {
	const domain = signature.domain ?? 'an unknown domain';
	return signature.selector ? `${domain} (selector ${signature.selector})` : domain;
}

export function dkimSentence(signature: DkimSignature): string {
	const who = signer(signature);
	switch (signature.result) {
		case 'pass':
			return `DKIM passed: ${who} signed this message and the signed parts arrived unchanged.`;
		case 'fail':
			return `DKIM failed: the signature by ${who} does not match the message. Its content or signed headers changed after signing, or the published key does not fit.`;
		case 'neutral':
			return `DKIM neutral: the signature by ${who} could not be verified (for example, it is malformed).`;
		case 'temperror':
			return `DKIM could not be checked: looking up the key of ${who} failed temporarily.`;
		case 'permerror':
			return `DKIM error: the key of ${who} is missing from DNS or broken.`;
		default:
			return `DKIM ${signature.result} for the signature by ${who}.`;
	}
}

/** RFC 7489 §3.1.1: a signature counts for DMARC only when its domain matches the From domain. */
export function dkimAlignmentSentence(signature: DkimSignature, fromDomain: string | null): string {
	const domain = signature.domain ?? 'the signing domain';
	if (signature.aligned) return `Aligned: ${domain} matches the From domain, so it counts for DMARC.`;
	return `Not aligned: ${domain} is not the From domain${fromDomain ? ` (${fromDomain})` : ''}, so this signature does not count for DMARC.`;
}

export function dmarcSentence(dmarc: Dmarc): string {
	const domain = dmarc.domain ?? 'the sender’s domain';
	const policy = dmarc.policy ? ` Its published policy is p=${dmarc.policy}.` : '';
	switch (dmarc.result) {
		case 'pass': {
			const which = dmarc.spfAligned && dmarc.dkimAligned ? 'SPF and DKIM' : dmarc.dkimAligned ? 'DKIM' : 'SPF';
			return `DMARC passed for ${domain}: ${which} passed for the From domain.${policy}`;
		}
		case 'fail':
			return `DMARC failed for ${domain}: neither SPF nor DKIM passed for the From domain.${policy}`;
		case 'none':
			return dmarc.domain ? `No DMARC: ${domain} publishes no DMARC policy.` : 'DMARC was not checked.';
		case 'temperror':
			return `DMARC could not be checked: a DNS lookup for ${domain} failed temporarily.`;
		case 'permerror':
			return `DMARC error: the DMARC record of ${domain} is broken.`;
		default:
			return `DMARC result for ${domain}: ${dmarc.result}.${policy}`;
	}
}

export function arcSentence(arc: Arc): string {
	const sealer = arc.sealer ?? 'a forwarder';
	switch (arc.result) {
		case 'none':
			return 'No ARC: no forwarder sealed this message.';
		case 'pass':
			return `ARC passed: the chain of ${arc.instance} seal${arc.instance === 1 ? '' : 's'} is intact; the last one was added by ${sealer}.`;
		case 'fail':
			return `ARC failed: the chain sealed by ${sealer} is broken, so the results it recorded cannot be trusted.`;
		case 'temperror':
			return `ARC could not be checked: a key lookup for ${sealer} failed temporarily.`;
		default:
			return `ARC ${arc.result}${arc.sealer ? ` (sealed by ${arc.sealer})` : ''}.`;
	}
}
