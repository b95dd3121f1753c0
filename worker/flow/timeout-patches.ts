/**
 * SPEC §13: what a check that ran out of time says, for where its round trip stopped, with the
 * likely causes. Pure; the sweep (timeout.ts) and a late probe (recognise.ts) both close with it.
 */
import { domainOf } from '../../src/lib/schema/address';
import { PROBE_TIMEOUT_SECONDS, type DnsFindings, type FlowCheck, type RoundTrip } from '../../src/lib/schema/flow-check';

/** What a check that ran out of time says, for where its round trip stopped (SPEC §13: the likely causes). */
export function timeoutPatches(check: FlowCheck): { neverSent: Partial<RoundTrip>; noArrival: Partial<RoundTrip>; dns: DnsFindings } {
	const address = check.roundTrip.to;
	const domain = domainOf(address);
	const mx = check.dns?.mx;
	const cause =
		mx?.result === 'fail'
			? `The MX check above is the likely cause: mail to ${domain} ${mx.found.length ? `goes to ${mx.found.map((record) => record.split(' ').pop()).join(', ')}` : 'has nowhere to go'}, not to Cloudflare Email Routing.`
			: `Check that Email Routing has an active rule sending ${address} to the Worker (action "Send to a Worker"), that the domain's MX records are Cloudflare's, and whether the SMTP server held or bounced the probe after accepting it (its Sent folder or message trace).`;
	const unknown = { result: 'unknown' as const, found: [], says: 'The DNS lookups did not finish before the check gave up; run the check again.' };
	return {
		neverSent: {
			result: 'fail',
			step: 'timed_out',
			says: `The probe was never handed to the SMTP server (the check stopped before it could send). Run the check again; if this repeats, run the SMTP sending test.`
		},
		noArrival: {
			result: 'fail',
			step: 'timed_out',
			says: `The SMTP server accepted the probe, but it did not reach Mailgate within ${PROBE_TIMEOUT_SECONDS} seconds. ${cause}`
		},
		dns: { mx: unknown, spf: unknown, dmarc: unknown, dkim: unknown }
	};
}
