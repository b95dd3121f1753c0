/**
 * How an inbound message is parsed, once, for every reader of it (the log, the help desk's
 * payload, the forward and bounce checks): postal-mime, and one thing it cannot do. postal-mime
 * decodes a charset TextDecoder lacks as windows-1252, which leaves UTF-7 (RFC 2152) encoded:
 * "+ADw-" where the sender wrote "<". A message whose first text part declares UTF-7 (Windows
 * mailers label theirs `unicode-1-1-utf-7`) has that part's text decoded here (SPEC §15:
 * decoded, never refused).
 */
import PostalMime, { type Email } from 'postal-mime';
import { decodeUtf7, isUtf7Label } from '../mail/utf7';
import { listTextParts, MAX_RAW_SCAN_BYTES, toBinaryString } from './encoding';

export async function parseMail(raw: Uint8Array | string): Promise<Email> {
	const parsed = await PostalMime.parse(raw, { rfc822Attachments: true });
	const bytes = typeof raw === 'string' ? new TextEncoder().encode(raw) : raw;
	parsed.text = utf7Text(bytes, parsed) ?? parsed.text;
	return parsed;
}

/** The first text part decoded from UTF-7, or null when it declares another charset (postal-mime's text stands). */
function utf7Text(raw: Uint8Array, parsed: Pick<Email, 'text'>): string | null {
	// Without a text part of its own, the first one the walk finds may be an attached message's.
	if (!parsed.text) return null;
	const binary = toBinaryString(raw.subarray(0, MAX_RAW_SCAN_BYTES));
	// Most mail names no UTF-7 anywhere: the MIME walk is skipped for it.
	if (!/utf-?7/i.test(binary)) return null;
	const first = listTextParts(binary).find((part) => part.type === 'text/plain');
	return first && isUtf7Label(first.charset) ? decodeUtf7(first.body) : null;
}
