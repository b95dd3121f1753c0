/**
 * The text a plain bounce is read from. postal-mime decodes a charset TextDecoder lacks as
 * windows-1252, which leaves UTF-7 (RFC 2152) encoded: "+ADw-" where the report wrote "<".
 * A report whose first text part declares UTF-7 (Windows SMTP services label theirs
 * `unicode-1-1-utf-7`) is read from that part, decoded, never refused (SPEC §15). Pure.
 */
import { decodeUtf7, isUtf7Label } from '../../mail/utf7';
import { listTextParts, toBinaryString } from '../encoding';
import { MAX_RAW_SCAN_BYTES } from './ids';
import { MAX_NOTICE_CHARS, type ReportSource } from './report';

/** The first text part decoded from UTF-7, or null when it declares another charset (postal-mime's text stands). */
export function noticeText(source: ReportSource): string | null {
	// Without a text part of its own (postal-mime's text), the first one the walk finds is the returned message's.
	if (!source.parsed.text) return null;
	const binary = toBinaryString(source.raw.subarray(0, MAX_RAW_SCAN_BYTES));
	// Most reports name no UTF-7 anywhere: the MIME walk is skipped for them.
	if (!/utf-?7/i.test(binary)) return null;
	const first = listTextParts(binary).find((part) => part.type === 'text/plain');
	return first && isUtf7Label(first.charset) ? decodeUtf7(first.body.slice(0, MAX_NOTICE_CHARS)) : null;
}
