/**
 * The mailbox form's values and a kept draft, as the app's Node tests of the form start from
 * them (send-via, sending-limits): a filled Add form, and a draft saved by some earlier version
 * (no `sendVia` unless the test gives one, as drafts kept before SPEC §14 have none).
 */
import type { MailboxDraft } from '../../../src/lib/offline/db';
import { emptyValues, type MailboxFormValues } from '../../../src/routes/mailboxes/mailbox-form';

export function filled(change: Partial<MailboxFormValues> = {}): MailboxFormValues {
	return {
		...emptyValues(),
		integrationId: 'int-1',
		name: 'Acme Support',
		address: 'support@acme.example',
		username: 'desk@acme.example',
		password: 'secret',
		host: 'mail.acme.example',
		...change
	};
}

export function draftWith(smtp: Partial<MailboxDraft['smtp']> = {}): MailboxDraft {
	return {
		integrationId: 'int-1',
		name: 'Acme Support',
		description: '',
		address: 'support@acme.example',
		smtp: { host: 'mail.acme.example', port: 587, username: 'desk@acme.example', encryption: 'starttls', auth: 'password', oauth: null, ...smtp } as MailboxDraft['smtp'],
		manualForward: 'reject'
	};
}
