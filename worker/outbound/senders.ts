/**
 * The mailboxes replies go out as, remembered by this isolate (issue 22): a reply through a
 * mailbox seen before needs no read before its one write. Never trusted: the row is written only
 * while the mailbox still has the name and address the reply was composed with
 * (db/outbound.ts insertOutboundStatement), and a reply whose mailbox changed or went away is
 * composed again from a fresh read (api/outbound.ts).
 */
import type { ReplySender } from '../db/outbound';

/** Far more mailboxes than one deployment sends through; past it the memory starts over. */
const MAX_REMEMBERED = 1000;
const remembered = new Map<string, ReplySender>();

export function rememberedSender(mailboxId: string): ReplySender | null {
	return remembered.get(mailboxId) ?? null;
}

export function rememberSender(sender: ReplySender): void {
	if (remembered.size >= MAX_REMEMBERED) remembered.clear();
	remembered.set(sender.id, sender);
}

export function forgetSender(mailboxId: string): void {
	remembered.delete(mailboxId);
}
