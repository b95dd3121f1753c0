/**
 * Which message a bounce is about: the returned message's Message-ID (from its attached or
 * copied headers, or the report's Original-Message-ID) apart from the bounce's own In-Reply-To
 * and References. Every id is read by the one msg-id rule (src/lib/schema/message-id.ts), the
 * bounce's own from its raw header section (mail/thread-ids.ts), never from postal-mime's
 * RFC 2047-decoded values. Pure.
 */
import { parseMessageId } from '../../../src/lib/schema/message-id';
import { headerBlockEnd, headerBlockOf } from '../../mail/header-block';
import { readHeaderField } from '../../mail/header-field';
import { readThreadIds } from '../../mail/thread-ids';
import { attachmentText, parseFieldGroups } from './fields';
import { MAX_NOTICE_CHARS, type BounceReport, type ReportSource } from './report';

/** Characters of a returned message or headers part read for its header block. */
export const MAX_RETURNED_HEADER_CHARS = 64 * 1024;
/** Bytes of the raw message searched for a returned Message-ID when no part or text gave one. */
export const MAX_RAW_SCAN_BYTES = 1024 * 1024;
/** Ids taken from the bounce's References: the nearest ones are the likely match. */
export const MAX_REFERENCES = 20;

/** The returned message (RFC 3464 §2 third part): whole, or its headers only (RFC 6522 §4, RFC 6533 §6.3/§6.4). */
const RETURNED_TYPES = new Set(['message/rfc822', 'message/global', 'text/rfc822-headers', 'message/global-headers']);

/**
 * Returned headers' Message-IDs: from the returned part, else a copy in the text (`text`, the
 * notice as read; the text body when not given), else anywhere below the bounce's header.
 */
export function returnedIds(source: ReportSource, text?: string): string[] {
	const { raw, parsed } = source;
	const fromParts = parsed.attachments
		.filter((a) => RETURNED_TYPES.has(a.mimeType))
		.flatMap((a) => {
			const block = parseFieldGroups(headerBlockOf(attachmentText(a, MAX_RETURNED_HEADER_CHARS)))[0] ?? [];
			return block.filter((f) => f.name === 'message-id').flatMap((f) => parseMessageId(f.value) ?? []);
		});
	if (fromParts.length > 0) return fromParts;
	const body = text ?? (parsed.text ?? '').slice(0, MAX_NOTICE_CHARS);
	const fromText = messageIdLine(body);
	if (fromText) return [fromText];
	const own = readThreadIds(source.headerBlock).messageId;
	return rawMessageIds(raw).filter((id) => id !== own).slice(0, 1);
}

/** A Message-ID header line in text, folded or not (qmail, Yahoo, Exim and old Gmail copy the message in). */
const MESSAGE_ID_LINE = /^[ \t]*Message-ID:[ \t]*(?:\r?\n[ \t]+)?(<[^<>\s]{1,512}>)/gim;

function messageIdLine(text: string): string | null {
	return parseMessageId(new RegExp(MESSAGE_ID_LINE.source, 'im').exec(text)?.[1]);
}

/** A message/rfc822 part postal-mime parsed inline (Content-Disposition: inline) leaves its headers only in the raw bytes. */
function rawMessageIds(raw: Uint8Array): string[] {
	const text = new TextDecoder().decode(raw.subarray(0, MAX_RAW_SCAN_BYTES));
	const body = text.slice(headerBlockEnd(text));
	return [...body.matchAll(MESSAGE_ID_LINE)].flatMap((m) => parseMessageId(m[1]) ?? []);
}

/**
 * The returned message's ids (most specific first, then the report's Original-Message-ID) apart
 * from the report's own In-Reply-To and References (nearest first); never the report's own id.
 */
export function collectIds(source: ReportSource, specific: readonly string[]): Pick<BounceReport, 'returnedMessageIds' | 'threadMessageIds'> {
	const block = source.headerBlock;
	const own = readThreadIds(block);
	// Not RFC 3464 fields, but Gmail and others name the returned message this way.
	const original = ['Original-Message-ID', 'X-Original-Message-ID'].flatMap((name) => parseMessageId(readHeaderField(block, name)) ?? []);
	const returned = [...new Set([...specific, ...original])].filter((id) => id !== own.messageId);
	const references = own.references.slice(-MAX_REFERENCES).reverse();
	const thread = [...new Set([...own.inReplyTo, ...references])].filter((id) => id !== own.messageId && !returned.includes(id));
	return { returnedMessageIds: returned, threadMessageIds: thread };
}
