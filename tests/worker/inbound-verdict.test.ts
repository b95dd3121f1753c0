/** decideVerdict(): the inbound verdict rules as a table (SPEC §5.1, §5.3, §5.4, §13, §16). Pure. */
import { describe, expect, it } from 'vitest';
import { manualForwardRejectReason, type ForwardingClass } from '../../worker/inbound/forwarding';
import type { Verdict } from '../../worker/inbound/policy';
import { decideVerdict, isAlias, type InboundVerdict } from '../../worker/inbound/verdict';

const TO = 'support@help.acme.example';
const DMARC_REJECT = "550 5.7.1 Unauthenticated email from customer.example is not accepted due to domain's DMARC policy";
const DMARC_QUARANTINE = 'DMARC failed for customer.example, whose policy is quarantine.';
const DMARC_NONE = 'DMARC failed for customer.example; its policy is none, so the message was accepted.';
const MANUAL = manualForwardRejectReason();

const policies: Record<string, { verdict: Verdict; reason: string | null }> = {
	pass: { verdict: 'accepted', reason: null },
	none: { verdict: 'accepted', reason: DMARC_NONE },
	quarantine: { verdict: 'quarantined', reason: DMARC_QUARANTINE },
	reject: { verdict: 'rejected', reason: DMARC_REJECT },
	rejectWithoutWords: { verdict: 'rejected', reason: null }
};

type Row = [policy: keyof typeof policies, internal: boolean, forwarding: ForwardingClass, manualForward: 'accept' | 'reject', expected: InboundVerdict];

const rows: Row[] = [
	// DMARC decides for ordinary mail.
	['pass', false, 'none', 'reject', { verdict: 'accepted', reason: null }],
	['none', false, 'none', 'reject', { verdict: 'accepted', reason: DMARC_NONE }],
	['quarantine', false, 'none', 'reject', { verdict: 'quarantined', reason: DMARC_QUARANTINE }],
	['reject', false, 'none', 'reject', { verdict: 'rejected', reason: DMARC_REJECT }],
	['rejectWithoutWords', false, 'none', 'reject', { verdict: 'rejected', reason: 'refused' }],
	// Native forwarding is never refused for being forwarded.
	['pass', false, 'native', 'reject', { verdict: 'accepted', reason: null }],
	// A manual forward is refused when the mailbox says so, over an accepting or quarantining DMARC.
	['pass', false, 'manual', 'reject', { verdict: 'rejected', reason: MANUAL }],
	['none', false, 'manual', 'reject', { verdict: 'rejected', reason: MANUAL }],
	['quarantine', false, 'manual', 'reject', { verdict: 'rejected', reason: MANUAL }],
	['pass', false, 'manual', 'accept', { verdict: 'accepted', reason: null }],
	['quarantine', false, 'manual', 'accept', { verdict: 'quarantined', reason: DMARC_QUARANTINE }],
	// DMARC's refusal comes first: the sender's server hears the DMARC reason.
	['reject', false, 'manual', 'reject', { verdict: 'rejected', reason: DMARC_REJECT }],
	// Internal mail (a probe, the SMTP test's message) is never refused: quarantined instead.
	['reject', true, 'none', 'reject', { verdict: 'quarantined', reason: DMARC_REJECT }],
	['rejectWithoutWords', true, 'none', 'reject', { verdict: 'quarantined', reason: null }],
	['quarantine', true, 'none', 'reject', { verdict: 'quarantined', reason: DMARC_QUARANTINE }],
	['pass', true, 'none', 'reject', { verdict: 'accepted', reason: null }],
	['pass', true, 'manual', 'reject', { verdict: 'accepted', reason: null }]
];

describe('decideVerdict() for a service address', () => {
	it.each(rows)('DMARC %s, internal %s, forwarding %s, manual forwards %s', (policy, internal, forwarding, manualForward, expected) => {
		expect(decideVerdict({ recipient: 'service', policy: policies[policy]!, internal, forwarding, manualForward })).toEqual(expected);
	});
});

describe('decideVerdict() for other recipients (SPEC §5.1)', () => {
	it('refuses an address that is not a service address with 550 5.1.1', () => {
		expect(decideVerdict({ recipient: 'unknown', envelopeTo: 'sales@help.acme.example' })).toEqual({
			verdict: 'rejected',
			reason: '550 5.1.1 <sales@help.acme.example>: this address is not a service address of this help desk'
		});
	});

	it('refuses an alias of a service address, saying to write to the address itself', () => {
		expect(decideVerdict({ recipient: 'alias', envelopeTo: 'support+billing@help.acme.example' })).toEqual({
			verdict: 'rejected',
			reason: '550 5.1.1 <support+billing@help.acme.example>: aliases (sub-addresses) are not supported; write to the service address itself'
		});
	});

	it.each([
		[TO, false],
		['support+billing@help.acme.example', true],
		['support@help+acme.example', false],
		['+@help.acme.example', true]
	])('isAlias(%s) is %s (a plus in the local part only)', (address, alias) => {
		expect(isAlias(address)).toBe(alias);
	});
});
