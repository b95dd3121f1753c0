/// <reference types="vite/client" />
/** detectAutoReply() over automatic and personal mail (SPEC §11 `message.received` `autoReply`). */
import PostalMime from 'postal-mime';
import { describe, expect, it } from 'vitest';
import { detectAutoReply } from '../../worker/webhooks/auto-reply';

const automatic = import.meta.glob<string>('../fixtures/replies/auto/*.eml', { query: '?raw', import: 'default', eager: true });
const replies = import.meta.glob<string>('../fixtures/replies/*.eml', { query: '?raw', import: 'default', eager: true });
const ordinary = import.meta.glob<string>('../fixtures/email/*.eml', { query: '?raw', import: 'default', eager: true });
const outOfOffice = import.meta.glob<string>('../fixtures/bounces/not-bounce-out-of-office.eml', { query: '?raw', import: 'default', eager: true });

const NULL_SENDER = '';

async function detect(raw: string, envelopeFrom?: string) {
	// The email() handler parses this way; postal-mime lower-cases header keys.
	const parsed = await PostalMime.parse(raw, { rfc822Attachments: true });
	return detectAutoReply(parsed.headers, envelopeFrom === undefined ? parsed.from?.address : envelopeFrom);
}

const h = (entries: Record<string, string>) => Object.entries(entries).map(([key, value]) => ({ key: key.toLowerCase(), value }));

describe('automatic mail fixtures', () => {
	const cases: Array<{ file: string; envelopeFrom?: string; auto: boolean; reason: string | null }> = [
		// Exchange sends out-of-office replies from the null sender; the header is the better evidence.
		{ file: 'exchange-oof.eml', envelopeFrom: NULL_SENDER, auto: true, reason: 'Auto-Submitted: auto-generated' },
		{ file: 'gmail-vacation.eml', auto: true, reason: 'Auto-Submitted: auto-replied' },
		{ file: 'autoresponder-x-autoreply.eml', auto: true, reason: 'X-Autoreply: yes' },
		{ file: 'mailman-list.eml', auto: true, reason: 'Precedence: list' },
		{
			file: 'newsletter.eml',
			auto: true,
			reason: 'List-Unsubscribe: <https://mail.customer.example/u/8f3a2c>, <mailto:unsubscribe@mail.customer.example?subject=8f3a2c>'
		},
		{ file: 'notification-suppress.eml', auto: true, reason: 'X-Auto-Response-Suppress: OOF, DR, RN, NRN, AutoReply' },
		{ file: 'procmail-x-loop.eml', auto: true, reason: 'X-Loop: jane@customer.example' },
		{ file: 'person-auto-submitted-no.eml', auto: false, reason: null }
	];

	it('covers every fixture', () => {
		expect(Object.keys(automatic).map((path) => path.split('/').pop()).sort()).toEqual(cases.map((c) => c.file).sort());
	});

	it.each(cases)('$file', async ({ file, envelopeFrom, auto, reason }) => {
		expect(await detect(automatic[`../fixtures/replies/auto/${file}`]!, envelopeFrom)).toEqual({ auto, reason });
	});

	it('knows the out-of-office reply among the bounce fixtures', async () => {
		const raw = Object.values(outOfOffice)[0]!;
		expect(await detect(raw, NULL_SENDER)).toEqual({ auto: true, reason: 'Auto-Submitted: auto-replied' });
	});

	it('takes no reply or ordinary message for automatic', async () => {
		const personal = { ...replies, ...ordinary };
		expect(Object.keys(personal).length).toBeGreaterThan(30);
		for (const [path, raw] of Object.entries(personal)) expect(await detect(raw), path).toEqual({ auto: false, reason: null });
	});
});

describe('detectAutoReply', () => {
	it.each([
		['auto-notified (RFC 5436)', { 'Auto-Submitted': 'auto-notified' }, 'Auto-Submitted: auto-notified'],
		['a parameter after the keyword', { 'Auto-Submitted': 'auto-replied; owner-email="jane@customer.example"' }, 'Auto-Submitted: auto-replied; owner-email="jane@customer.example"'],
		['an unknown keyword', { 'Auto-Submitted': 'auto-forwarded' }, 'Auto-Submitted: auto-forwarded'],
		['X-Autorespond', { 'X-Autorespond': 'Out of office' }, 'X-Autorespond: Out of office'],
		['Precedence: bulk', { Precedence: 'bulk' }, 'Precedence: bulk'],
		['Precedence: junk in capitals', { Precedence: 'JUNK' }, 'Precedence: JUNK'],
		['Precedence: auto_reply', { Precedence: 'auto_reply' }, 'Precedence: auto_reply'],
		['X-Auto-Response-Suppress: All', { 'X-Auto-Response-Suppress': 'All' }, 'X-Auto-Response-Suppress: All'],
		['X-Auto-Response-Suppress: OOF alone', { 'X-Auto-Response-Suppress': 'OOF' }, 'X-Auto-Response-Suppress: OOF'],
		['X-Loop: yes', { 'X-Loop': 'yes' }, 'X-Loop: yes'],
		['List-Id', { 'List-Id': '<customers.lists.customer.example>' }, 'List-Id: <customers.lists.customer.example>']
	])('marks %s', (_name, headers, reason) => {
		expect(detectAutoReply(h(headers), 'jane@customer.example')).toEqual({ auto: true, reason });
	});

	it.each([
		['Auto-Submitted: no', { 'Auto-Submitted': 'no' }],
		['Auto-Submitted: No (comment)', { 'Auto-Submitted': 'No (written by a person)' }],
		['an empty Auto-Submitted', { 'Auto-Submitted': ' ' }],
		['X-Autoreply: no', { 'X-Autoreply': 'no' }],
		['Precedence: first-class', { Precedence: 'first-class' }],
		['Precedence: normal', { Precedence: 'normal' }],
		['receipts suppressed only', { 'X-Auto-Response-Suppress': 'DR, NDR, RN, NRN' }],
		['X-Auto-Response-Suppress: None', { 'X-Auto-Response-Suppress': 'None' }],
		['an empty List-Id', { 'List-Id': '' }],
		['X-Loop: no', { 'X-Loop': 'no' }]
	])('leaves %s alone', (_name, headers) => {
		expect(detectAutoReply(h(headers), 'jane@customer.example')).toEqual({ auto: false, reason: null });
	});

	it('treats the null envelope sender as automatic, and a missing one as unknown', () => {
		expect(detectAutoReply([], '')).toEqual({ auto: true, reason: 'null envelope sender (MAIL FROM:<>)' });
		expect(detectAutoReply([], '<>')).toEqual({ auto: true, reason: 'null envelope sender (MAIL FROM:<>)' });
		expect(detectAutoReply([], 'jane@customer.example')).toEqual({ auto: false, reason: null });
		expect(detectAutoReply([])).toEqual({ auto: false, reason: null });
	});

	it('reads header keys in any case, every occurrence, and the strongest evidence first', () => {
		const headers = [
			{ key: 'Auto-Submitted', value: 'no' },
			{ key: 'List-Id', value: '<team.customer.example>' },
			{ key: 'AUTO-SUBMITTED', value: 'auto-generated' }
		];
		expect(detectAutoReply(headers, '')).toEqual({ auto: true, reason: 'Auto-Submitted: auto-generated' });
	});

	it('cuts a long header value in the reason', () => {
		const { reason } = detectAutoReply(h({ 'List-Unsubscribe': `<https://list.example/${'x'.repeat(5000)}>` }));
		expect(reason!.length).toBeLessThan(250);
		expect(reason).toMatch(/^List-Unsubscribe: <https:\/\/list\.example\/x+…$/);
	});
});
