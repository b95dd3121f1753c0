/**
 * SPEC §14 in the app's pure core: the mailbox form's Send through (src/routes/mailboxes/
 * mailbox-form.ts), the drafts and working copies kept before it existed, the words said before
 * saving a switch, and the words of an API mailbox's results (src/lib/components/smtp-words.ts,
 * src/routes/sent/). The browser test (tests/e2e/api-send.test.ts) runs it end to end.
 */
import { describe, expect, it } from 'vitest';
import type { LocalMailbox, MailboxDraft } from '../../../src/lib/offline/db';
import type { OfflineStore } from '../../../src/lib/offline/store';
import { sameDraft } from '../../../src/lib/offline/sync';
import { mailboxSchema, type Mailbox } from '../../../src/lib/schema/mailbox';
import { PASSWORD_SMTP, sendMethodOf, serverWordsOf, smtpCategoryLabel, smtpFailureSummary, testWords } from '../../../src/lib/components/smtp-words';
import {
	compareMailbox,
	consentNote,
	emptyValues,
	formSendMethod,
	splitPassword,
	validateEdit,
	validateNew,
	valuesFromDraft,
	withSignIn,
	type MailboxFormValues
} from '../../../src/routes/mailboxes/mailbox-form';
import { MailboxKeeper } from '../../../src/routes/mailboxes/working-copy';
import { sendMethodOfItem } from '../../../src/routes/sent/send-method';
import { describeStatus } from '../../../src/routes/sent/status-words';
import { draftWith, filled } from './form-fixtures';

/** A draft of a Microsoft 365 mailbox kept before SPEC §14 (no sendVia unless given). */
const draft = (smtp: Partial<MailboxDraft['smtp']> = {}) =>
	draftWith({ host: 'smtp.office365.com', auth: 'oauth2', oauth: { provider: 'microsoft' }, ...smtp });


const graph = (change: Partial<MailboxFormValues> = {}) => ({ ...withSignIn(filled(), 'microsoft'), sendVia: 'api' as const, ...change });


describe('Send through on the mailbox form', () => {
	it('starts on SMTP; choosing a provider keeps it, Password sets it back to SMTP', () => {
		expect(emptyValues().sendVia).toBe('smtp');
		expect(withSignIn(filled(), 'microsoft').sendVia).toBe('smtp');
		expect(withSignIn(graph(), 'google').sendVia).toBe('api');
		expect(withSignIn(graph(), 'password').sendVia).toBe('smtp');
	});

	it('with the API, the server, port and encryption are neither required nor checked: the provider’s SMTP server stands in', () => {
		const checked = validateNew(graph({ host: '', port: 'abc', encryption: 'none' }));
		expect(checked).toMatchObject({ ok: true });
		if (!checked.ok) return;
		expect(checked.data.smtp).toMatchObject({ sendVia: 'api', auth: 'oauth2', host: 'smtp.office365.com', port: 587, encryption: 'starttls' });
		expect(checked.data.smtp.password).toBeUndefined();
		const google = validateNew({ ...graph({ host: '' }), signIn: 'google' });
		expect(google.ok && google.data.smtp).toMatchObject({ sendVia: 'api', host: 'smtp.gmail.com', port: 465, encryption: 'tls' });
	});

	it('by SMTP, the same empty server is an error on Server address, and a password mailbox always sends by SMTP', () => {
		const smtp = validateNew(graph({ sendVia: 'smtp', host: '' }));
		expect(smtp.ok).toBe(false);
		expect(!smtp.ok && smtp.errors['smtp.host']).toBeTruthy();
		// A kept copy could say api with Password (the control is hidden then): it is not sent.
		const password = validateNew(filled({ sendVia: 'api' }));
		expect(password.ok && password.data.smtp.sendVia).toBe('smtp');
	});

	it('the draft keeps sendVia like every other field, and an edit validates with it', () => {
		const checked = validateEdit(graph(), false);
		expect(checked.ok).toBe(true);
		if (!checked.ok) return;
		const { draft: kept, password } = splitPassword(checked.data);
		expect(kept.smtp.sendVia).toBe('api');
		expect(password).toBe('');
		expect(valuesFromDraft(kept).sendVia).toBe('api');
	});

	it('a draft kept before Send through existed loads as SMTP', () => {
		expect(valuesFromDraft(draft()).sendVia).toBe('smtp');
		expect(valuesFromDraft(draft({ auth: 'password', oauth: null })).sendVia).toBe('smtp');
	});

	it('a working copy kept before Send through existed takes the saved draft’s method', async () => {
		const { sendVia: _sendVia, password: _password, ...form } = filled();
		const old = { form, smtpTestReceipt: null };
		const store = {
			async workingCopy() {
				return { values: old, expected: null, keptAt: '2026-12-01T00:00:00.000Z', password: '', passwordLost: false };
			}
		} as unknown as OfflineStore;
		const restored = await new MailboxKeeper('mailbox:1', async () => store).restore(valuesFromDraft(draft({ sendVia: 'api' })));
		expect(restored?.values.sendVia).toBe('api');
		expect(restored?.values.name).toBe('Acme Support');
	});

	it('a draft without sendVia is the same as the server’s copy whatever its method (its update leaves the method alone)', () => {
		expect(sameDraft(draft(), draft({ sendVia: 'api' }))).toBe(true);
		expect(sameDraft(draft({ sendVia: 'smtp' }), draft())).toBe(true);
		expect(sameDraft(draft({ sendVia: 'smtp' }), draft({ sendVia: 'api' }))).toBe(false);
		// Other fields still count.
		expect(sameDraft(draft(), draft({ sendVia: 'api', username: 'other@acme.example' }))).toBe(false);
	});

	it('a copy from a Worker before SPEC §14 reads as SMTP, its sign-in without a missing scope', () => {
		const parsed = mailboxSchema.parse({
			...draft(),
			id: 'm1',
			version: 1,
			smtp: { ...draft().smtp, hasPassword: false, oauth: { provider: 'microsoft', account: 'desk@acme.example', connectedAt: null, status: 'connected' } },
			createdAt: '2026-12-01T00:00:00.000Z',
			updatedAt: '2026-12-01T00:00:00.000Z',
			lastSmtpTest: null
		});
		expect(parsed.smtp.sendVia).toBe('smtp');
		expect(parsed.smtp.oauth?.scopeMissing).toBe(false);
	});

	it('the version comparison names Send through', () => {
		const server = { ...draft({ sendVia: 'smtp' }), smtp: { ...draft({ sendVia: 'smtp' }).smtp, hasPassword: false, oauth: null } } as unknown as Mailbox;
		const rows = compareMailbox({ draft: draft({ sendVia: 'api' }), newPassword: false, server, integrationName: () => 'Acme' });
		expect(rows.find((row) => row.label === 'Send through')).toEqual({ label: 'Send through', mine: 'Microsoft Graph API', theirs: 'SMTP server' });
	});
});

describe('Switching Send through on a signed-in mailbox', () => {
	const connected = { provider: 'microsoft' as const, status: 'connected', scopeMissing: false };

	it('says before saving that Reconnect follows, and why', () => {
		expect(consentNote(graph(), { sendVia: 'smtp', connection: connected })).toBe(
			'After saving, press Reconnect: sending through the Microsoft Graph API needs another consent from Microsoft.'
		);
		expect(consentNote(graph({ sendVia: 'smtp' }), { sendVia: 'api', connection: connected })).toBe(
			'After saving, press Reconnect: sending through the SMTP server needs another consent from Microsoft.'
		);
		const google = { ...graph(), signIn: 'google' as const };
		expect(consentNote(google, { sendVia: 'smtp', connection: { ...connected, provider: 'google' } })).toBe(
			'After saving, press Reconnect: sending through the Gmail API needs another consent from Google.'
		);
	});

	it('says nothing without a change, without a sign-in, for another provider, or when switching back to what the grant covers', () => {
		expect(consentNote(graph(), { sendVia: 'api', connection: connected })).toBe('');
		expect(consentNote(graph(), { sendVia: 'smtp', connection: null })).toBe('');
		expect(consentNote(graph(), { sendVia: 'smtp', connection: { ...connected, status: 'not_connected' } })).toBe('');
		expect(consentNote(graph(), { sendVia: 'smtp', connection: { ...connected, provider: 'google' } })).toBe('');
		expect(consentNote(graph(), { sendVia: 'smtp', connection: { ...connected, status: 'reconnect', scopeMissing: true } })).toBe('');
	});
});

describe('An API mailbox’s words', () => {
	const api = formSendMethod(graph());

	it('the sending test names no SMTP server, connection or password', () => {
		expect(api).toEqual({ auth: 'oauth2', provider: 'microsoft', api: true });
		const words = testWords(api);
		expect(words.title).toBe('Sending test');
		for (const text of Object.values(words)) expect(text).not.toMatch(/SMTP|password|connect(?!ion)/i);
		expect(words.explains).toContain('Microsoft Graph API');
		expect(smtpCategoryLabel('auth', api)).toBe('Sign-in');
		expect(smtpCategoryLabel('rejected', api)).toBe('Refused by Microsoft 365');
		expect(smtpFailureSummary('auth', 'token', api)).toBe('Sign-in, at Access token');
		expect(smtpFailureSummary('rejected', 'send', api)).toBe('Refused by Microsoft 365, at Send (API)');
		// An SMTP mailbox keeps its words.
		expect(testWords(PASSWORD_SMTP).title).toBe('SMTP sending test');
		expect(testWords(formSendMethod(withSignIn(filled(), 'microsoft'))).resultLabel).toBe('SMTP test result');
		expect(sendMethodOf({ auth: 'password', sendVia: 'api', provider: 'microsoft' }).api).toBe(false);
	});

	it('the provider’s HTTP status goes in front of its code and message; an SMTP reply is shown as it came', () => {
		expect(serverWordsOf({ stage: 'send', code: 403, serverMessage: 'ErrorSendAsDenied: not allowed' })).toBe('403 ErrorSendAsDenied: not allowed');
		expect(serverWordsOf({ stage: 'send', code: 202, serverMessage: '202 Accepted' })).toBe('202 Accepted');
		expect(serverWordsOf({ stage: 'token', code: 401, serverMessage: 'InvalidAuthenticationToken: expired' })).toBe('401 InvalidAuthenticationToken: expired');
		expect(serverWordsOf({ stage: 'auth', code: 535, serverMessage: '5.7.8 Authentication failed' })).toBe('5.7.8 Authentication failed');
		expect(serverWordsOf({ stage: 'send' })).toBeNull();
	});

	it('a reply says it leaves through the API, the attempt’s stage deciding once it was tried', () => {
		const mailbox = { id: 'm1', server: { smtp: { auth: 'oauth2', sendVia: 'api', oauth: { provider: 'microsoft' } } } } as unknown as LocalMailbox;
		const queued = sendMethodOfItem({ mailboxId: 'm1', attempts: [] }, [mailbox]);
		expect(describeStatus({ status: 'queued', sentAt: null, nextAttemptAt: null }, false, queued).text).toBe(
			'It leaves through the Microsoft Graph API in a moment.'
		);
		const sent = sendMethodOfItem({ mailboxId: 'm1', attempts: [{ stage: 'send' }] as never }, [mailbox]);
		expect(describeStatus({ status: 'sent', sentAt: null, nextAttemptAt: null }, false, sent).text).toBe('Microsoft 365 accepted it.');
		// Sent by SMTP before the mailbox switched: the attempt says so.
		const before = sendMethodOfItem({ mailboxId: 'm1', attempts: [{ stage: 'data' }] as never }, [mailbox]);
		expect(describeStatus({ status: 'sent', sentAt: null, nextAttemptAt: null }, false, before).text).toBe('The mailbox’s SMTP server accepted it.');
	});
});
