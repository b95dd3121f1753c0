/**
 * A message's Message-ID, In-Reply-To and References as RFC 5322 §3.6.4 defines them, read
 * from its raw header section (never from a MIME parser's decoded values: postal-mime decodes
 * RFC 2047 words there, so `=0D=0A` would become a line break). What does not parse as a
 * msg-id is not an id: nothing else reaches a header we write or a thread lookup.
 */
import { parseMessageId, parseMessageIdList } from '../../src/lib/schema/message-id';
import { readHeaderField } from './header-field';

export interface ThreadIds {
	/** Without brackets; null when the field is missing or not exactly one msg-id. */
	messageId: string | null;
	inReplyTo: string[];
	references: string[];
}

/** The three fields of `block` (a raw header section), first occurrence of each. */
export function readThreadIds(block: string): ThreadIds {
	return {
		messageId: parseMessageId(readHeaderField(block, 'Message-ID')),
		inReplyTo: parseMessageIdList(readHeaderField(block, 'In-Reply-To')),
		references: parseMessageIdList(readHeaderField(block, 'References'))
	};
}

/**
 * RFC 5322 §3.6.4: a reply's References are the parent's References (or, without them, its
 * In-Reply-To) followed by the parent's Message-ID, if it has one. `max` keeps the first id
 * and the newest ones (the RFC advises short chains).
 */
export function replyReferences(parent: ThreadIds, max: number): string[] {
	const before = parent.references.length > 0 ? parent.references : parent.inReplyTo;
	const chain = [...new Set([...before, ...(parent.messageId ? [parent.messageId] : [])])];
	return chain.length > max ? [chain[0]!, ...chain.slice(-(max - 1))] : chain;
}
