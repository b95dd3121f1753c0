/**
 * A last look at a stored reply before it leaves (issue 18): its header section must be one
 * that Mailgate's composer writes. Replies composed before msg-ids were parsed strictly may
 * carry a sender's CR/LF-injected fields (a Reply-To, a second Content-Type, an HTML body in
 * the header section); such a reply is never sent again, whether the queue redelivers it or
 * an admin presses Retry. Pure.
 */
import { parseMessageId, parseMessageIdList } from '../../src/lib/schema/message-id';
import { headerBlockEnd } from './header-block';
import { readHeaderField } from './header-field';

/** The fields mail/compose.ts writes, each once (mimetext plus our threading and probe fields). */
const COMPOSED_FIELDS = new Set([
	'date',
	'from',
	'to',
	'cc',
	'message-id',
	'subject',
	'mime-version',
	'in-reply-to',
	'references',
	'content-type',
	// A single text/plain part stands at the top level with its encoding.
	'content-transfer-encoding',
	'x-mailgate-probe',
	'x-mailgate-test'
]);

/** Null when the header section is one we compose; else what is wrong, in plain words. */
export function checkComposedHeaders(raw: string): string | null {
	const end = headerBlockEnd(raw);
	if (end === raw.length) return 'it has no header section';
	const block = raw.slice(0, end);
	if (/[\0]|\r(?!\n)|(?<!\r)\n/.test(block)) return 'its header section has a bare line break or NUL';
	const seen = new Set<string>();
	for (const line of block.split('\r\n')) {
		if (line === '' || line.startsWith(' ') || line.startsWith('\t')) continue;
		const name = line.slice(0, Math.max(0, line.indexOf(':'))).toLowerCase();
		if (!COMPOSED_FIELDS.has(name)) return `it has a header field Mailgate does not write (${JSON.stringify(line.slice(0, 40))})`;
		if (seen.has(name)) return `it has two ${name} fields`;
		seen.add(name);
	}
	const inReplyTo = readHeaderField(block, 'In-Reply-To');
	if (inReplyTo !== null && parseMessageId(inReplyTo) === null) return 'its In-Reply-To is not one Message-ID';
	const references = readHeaderField(block, 'References');
	if (references !== null && parseMessageIdList(references).length !== (references.match(/</g) ?? []).length) {
		return 'its References holds something that is not a Message-ID';
	}
	return null;
}
