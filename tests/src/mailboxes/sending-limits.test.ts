/**
 * SPEC §15 in the app's pure core: the mailbox form's optional Sending limits (src/routes/
 * mailboxes/mailbox-form.ts), drafts and working copies with and without them, and the
 * "Sending paused until" notice (src/lib/components/sending-paused.ts). The browser test
 * (tests/e2e/mailbox-health.test.ts) shows the notice end to end.
 */
import { describe, expect, it } from 'vitest';
import type { MailboxDraft } from '../../../src/lib/offline/db';
import type { OfflineStore } from '../../../src/lib/offline/store';
import { mailboxDraftOf, sameDraft } from '../../../src/lib/offline/sync';
import { mailboxSchema } from '../../../src/lib/schema/mailbox';
import { pauseOf } from '../../../src/lib/components/sending-paused';
import {
	compareMailbox,
	fieldPaths,
	limitPlaceholders,
	splitPassword,
	validateNew,
	valuesFromDraft,
	withSignIn,
	type MailboxFormValues
} from '../../../src/routes/mailboxes/mailbox-form';
import { MailboxKeeper, sameFormValues } from '../../../src/routes/mailboxes/working-copy';
import { draftWith, filled } from './form-fixtures';

const draft = (smtp: Partial<MailboxDraft['smtp']> = {}) => draftWith({ sendVia: 'smtp', ...smtp });



describe('Sending limits on the mailbox form', () => {
	it('empty is the provider’s defaults (null); a field left empty is left out', () => {
		const none = validateNew(filled());
		expect(none.ok && none.data.smtp.limits).toBeNull();
		const some = validateNew(filled({ perMinute: ' 20 ' }));
		expect(some.ok && some.data.smtp.limits).toEqual({ perMinute: 20 });
		const both = validateNew(filled({ concurrent: '3', perMinute: '30' }));
		expect(both.ok && both.data.smtp.limits).toEqual({ concurrent: 3, perMinute: 30 });
	});

	it('refuses what is not a whole number in range, on the field, with the schema’s words', () => {
		for (const [change, field, words] of [
			[{ concurrent: '0' }, 'concurrent', 'Concurrent sessions is a whole number from 1 to 10'],
			[{ concurrent: '11' }, 'concurrent', 'Concurrent sessions is a whole number from 1 to 10'],
			[{ concurrent: '2.5' }, 'concurrent', 'Concurrent sessions is a whole number from 1 to 10'],
			[{ perMinute: '601' }, 'perMinute', 'Messages a minute is a whole number from 1 to 600'],
			[{ perMinute: '1e2' }, 'perMinute', 'Messages a minute is a whole number from 1 to 600']
		] as const) {
			const checked = validateNew(filled(change));
			expect(checked.ok).toBe(false);
			if (!checked.ok) expect(checked.errors[fieldPaths[field]]).toBe(words);
		}
	});

	it('shows the provider’s limits as placeholders', () => {
		expect(limitPlaceholders(withSignIn(filled(), 'microsoft'))).toEqual({ concurrent: '3', perMinute: '30' });
		expect(limitPlaceholders({ ...withSignIn(filled(), 'microsoft'), sendVia: 'api' })).toEqual({ concurrent: '4', perMinute: '30' });
		expect(limitPlaceholders(withSignIn(filled(), 'google'))).toEqual({ concurrent: '2', perMinute: 'No limit' });
		expect(limitPlaceholders(filled({ host: 'SMTP.Office365.com' }))).toEqual({ concurrent: '3', perMinute: '30' });
		expect(limitPlaceholders(filled())).toEqual({ concurrent: '2', perMinute: 'No limit' });
	});
});

describe('Sending limits in drafts and working copies', () => {
	it('a draft keeps them, and the form reads them back', () => {
		const checked = validateNew(filled({ concurrent: '2', perMinute: '12' }));
		if (!checked.ok) throw new Error('invalid');
		const { draft: kept } = splitPassword(checked.data);
		expect(kept.smtp.limits).toEqual({ concurrent: 2, perMinute: 12 });
		expect(valuesFromDraft(kept)).toMatchObject({ concurrent: '2', perMinute: '12' });
		// A draft kept before SPEC §15 has none: the provider's defaults.
		expect(valuesFromDraft(draft())).toMatchObject({ concurrent: '', perMinute: '' });
	});

	it('a draft without limits matches the server’s copy whatever its limits; other limits do not', () => {
		expect(sameDraft(draft(), draft({ limits: { perMinute: 5 } }))).toBe(true);
		expect(sameDraft(draft({ limits: null }), draft({ limits: null }))).toBe(true);
		expect(sameDraft(draft({ limits: null }), draft({ limits: { perMinute: 5 } }))).toBe(false);
		expect(sameDraft(draft({ limits: { perMinute: 5 } }), draft({ limits: { perMinute: 6 } }))).toBe(false);
	});

	it('the pause is the provider’s doing: never in a draft, so a pause alone is no change', () => {
		const server = mailboxSchema.parse({
			...draft({ limits: { concurrent: 2 } }),
			id: 'm1',
			version: 3,
			smtp: { ...draft({ limits: { concurrent: 2 } }).smtp, hasPassword: true, pausedUntil: '2026-12-07T18:00:00.000Z', pauseReason: '432 4.3.2 Concurrent connections limit exceeded' },
			createdAt: '2026-12-01T00:00:00.000Z',
			updatedAt: '2026-12-01T00:00:00.000Z',
			lastSmtpTest: null
		});
		const fromServer = mailboxDraftOf(server);
		expect(fromServer.smtp).not.toHaveProperty('pausedUntil');
		expect(fromServer.smtp).not.toHaveProperty('pauseReason');
		expect(sameDraft(fromServer, draft({ limits: { concurrent: 2 } }))).toBe(true);
		// A copy from a Worker before SPEC §15 has no limits and no pause.
		const old = mailboxSchema.parse({ ...server, smtp: { ...draft().smtp, hasPassword: true } });
		expect(old.smtp).toMatchObject({ limits: null, pausedUntil: null, pauseReason: null });
	});

	it('the version conflict compares them in words', () => {
		const server = mailboxSchema.parse({
			...draft(),
			id: 'm1',
			version: 3,
			smtp: { ...draft().smtp, hasPassword: true, limits: null },
			createdAt: '2026-12-01T00:00:00.000Z',
			updatedAt: '2026-12-01T00:00:00.000Z',
			lastSmtpTest: null
		});
		const fields = compareMailbox({ draft: draft({ limits: { concurrent: 1, perMinute: 10 } }), newPassword: false, server, integrationName: () => 'Acme' });
		expect(fields.find((field) => field.label === 'Sending limits')).toEqual({ label: 'Sending limits', mine: '1 at once, 10 a minute', theirs: 'The provider’s defaults' });
	});

	it('a working copy keeps them; one kept before them takes the form’s', async () => {
		expect(sameFormValues(filled(), filled({ perMinute: '10' }))).toBe(false);
		const { concurrent: _c, perMinute: _p, password: _password, ...form } = filled();
		const store = {
			async workingCopy() {
				return { values: { form, smtpTestReceipt: null }, expected: null, keptAt: '2026-12-01T00:00:00.000Z', password: '', passwordLost: false };
			}
		} as unknown as OfflineStore;
		const restored = await new MailboxKeeper('mailbox:1', async () => store).restore(valuesFromDraft(draft({ limits: { perMinute: 7 } })));
		expect(restored?.values).toMatchObject({ concurrent: '', perMinute: '7', name: 'Acme Support' });
	});
});

describe('Sending paused until (SPEC §15)', () => {
	const now = Date.parse('2026-12-07T17:00:00.000Z');
	it('shows while the provider’s time is to come, with its words; never once it passed', () => {
		expect(pauseOf({ pausedUntil: '2026-12-07T17:01:00.000Z', pauseReason: '421 4.7.0 Try again later' }, now)).toEqual({
			until: '2026-12-07T17:01:00.000Z',
			reason: '421 4.7.0 Try again later'
		});
		expect(pauseOf({ pausedUntil: '2026-12-07T16:59:00.000Z', pauseReason: 'old' }, now)).toBeNull();
		expect(pauseOf({ pausedUntil: null, pauseReason: null }, now)).toBeNull();
		expect(pauseOf(null, now)).toBeNull();
		expect(pauseOf({ pausedUntil: '2026-12-07T18:00:00.000Z', pauseReason: '' }, now)?.reason).toBeNull();
	});
});
