/**
 * The text a plain bounce is read from: a report in UTF-7 (Windows SMTP services write
 * `unicode-1-1-utf-7`), decoded (inbound/utf7-text.ts), never refused (SPEC §15). Pure.
 */
import { utf7Text } from '../utf7-text';
import { MAX_NOTICE_CHARS, type ReportSource } from './report';

/** The report's text decoded from UTF-7, or null when it declares another charset (postal-mime's text stands). */
export function noticeText(source: ReportSource): string | null {
	return utf7Text(source.raw, source.parsed)?.slice(0, MAX_NOTICE_CHARS) ?? null;
}
