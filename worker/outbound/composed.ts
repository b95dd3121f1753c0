/**
 * Where a reply's composed message lives (SPEC §10 "The message": exactly the bytes that leave,
 * kept 30 days). Issue 22: `POST /outbound` writes once, so a message up to INLINE_COMPOSED_BYTES
 * goes into its own row (migration 0018) in the row's D1 batch, and the reply consumer puts it in
 * R2 when it first takes the reply, then clears the row's copy; a larger one is put in R2 by the
 * request itself. At every moment one of the two holds it (the put comes before the clearing),
 * and every reader here looks in the row first. A row never keeps the message of a reply whose
 * text, HTML or header block it had to cut, so the whole content of a cut row is read from R2.
 * The row's copy leaves out the text part's body, which its `text` column holds (rowCopy).
 */
import { composedKey } from '../archive/keys';
import { emlOf, emlResponse, putMessage, readComposed } from '../archive/originals';
import { dropComposedFromRow, findComposedInRow, type RowComposed } from '../db/outbound';
import { encodedText, type ComposedMessage, type TextEncoding } from '../mail/compose';
import type { Services } from '../services';

/**
 * The largest composed message kept in its row until the consumer takes it: a reply with text and
 * HTML but no sizeable attachment (D1 keeps up to 2 MB a row; the row holds the text as well).
 */
export const INLINE_COMPOSED_BYTES = 128 * 1024;

type Stores = Pick<Services, 'db' | 'archive'>;

/**
 * What the row keeps of a composed message (migration 0019): the message without its text part's
 * body, which the row's `text` holds already and which goes back encoded exactly as it was, so the
 * request's one write does not carry the text twice. Whole when the body cannot be told apart or
 * the text would not come back byte for byte (never the case for a text the row keeps uncut).
 */
export function rowCopy(composed: ComposedMessage, text: string): RowComposed {
	const { raw, textBody: part } = composed;
	// What wholeComposed puts back is this body, in the encoding the part header before `at` names.
	const body = part && encodedText(text, part.encoding);
	if (!part || !body || !raw.startsWith(body, part.at)) return { composed: raw, textAt: null, text };
	return { composed: raw.slice(0, part.at) + raw.slice(part.at + body.length), textAt: part.at, text };
}

/**
 * The composed message from the row's copy: its text part's body put back where it was left out,
 * in the encoding its part header names (so a later rule for choosing one does not change it).
 */
export function wholeComposed(copy: RowComposed): string {
	if (copy.textAt === null) return copy.composed;
	const encoding = partEncoding(copy.composed, copy.textAt);
	if (encoding === null) throw new Error('The composed copy in the row has no text part header before its text');
	return copy.composed.slice(0, copy.textAt) + encodedText(copy.text, encoding) + copy.composed.slice(copy.textAt);
}

/** The Content-Transfer-Encoding of the part whose body starts at `at` (its header block ends there). */
function partEncoding(raw: string, at: number): TextEncoding | null {
	const found = /Content-Transfer-Encoding: (7bit|quoted-printable|base64)\r\n\r\n$/.exec(raw.slice(Math.max(0, at - 64), at));
	return found ? (found[1] as TextEncoding) : null;
}

/**
 * The composed message: the row's copy (`inRow`, as the consumer's claim read it), else R2's;
 * null when neither holds it (past retention).
 */
export async function readComposedReply(services: Stores, id: string, inRow: RowComposed | null): Promise<string | null> {
	return inRow ? wholeComposed(inRow) : readComposed(services.archive, composedKey(id));
}

/**
 * Puts the row's copy in R2 and then clears it. A failure is only logged: the row keeps its copy,
 * so the reply still leaves, and its next attempt (or retry) tries again.
 */
export async function moveComposedToArchive(services: Stores, outbound: { id: string; messageId: string }, raw: string): Promise<void> {
	try {
		await putMessage(services.archive, composedKey(outbound.id), raw, outbound.messageId);
		await dropComposedFromRow(services.db, outbound.id);
	} catch (error) {
		console.error('composed_archive_failed', { outboundId: outbound.id, error: error instanceof Error ? error.message : String(error) });
	}
}

/** `GET /api/outbound/:id/raw`: the composed message as `<Message-ID>.eml`; null when it is gone. */
export async function composedEml(services: Stores, outbound: { id: string; messageId: string; text: string }): Promise<Response | null> {
	const inRow = await findComposedInRow(services.db, outbound);
	return inRow ? emlOf(wholeComposed(inRow), outbound.messageId) : emlResponse(services.archive, composedKey(outbound.id), outbound.messageId);
}
