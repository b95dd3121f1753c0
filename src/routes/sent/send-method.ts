/**
 * How an outbound message leaves (SPEC §14), for its words: through the mailbox's SMTP server or
 * its provider's API. An attempt's stage is the evidence once it was tried (an API send stops at
 * `token` or `send`); before that, the mailbox's saved Send through on this device says.
 */
import type { LocalMailbox } from '$lib/offline/db';
import type { OutboundItem } from '$lib/schema/outbound';
import { PASSWORD_SMTP, isApiStage, sendMethodOf, type SendMethod } from '$lib/components/smtp-words';

export function sendMethodOfItem(item: Pick<OutboundItem, 'mailboxId' | 'attempts'>, mailboxes: readonly LocalMailbox[]): SendMethod {
	const smtp = mailboxes.find((mailbox) => mailbox.id === item.mailboxId)?.server?.smtp;
	const saved = smtp ? sendMethodOf({ auth: smtp.auth, provider: smtp.oauth?.provider, sendVia: smtp.sendVia }) : PASSWORD_SMTP;
	const last = item.attempts.at(-1);
	return last ? { ...saved, api: isApiStage(last.stage) } : saved;
}
