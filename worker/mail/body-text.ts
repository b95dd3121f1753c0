/**
 * A message's text as the help desk reads it (SPEC §11): its text/plain body, or for HTML-only
 * mail a rendition of its HTML, marked as derived so it never shows empty. Made once per
 * message (the conversion takes up to about 0.3 s) and passed on: the log row and the
 * `message.received` payload cut it to their own budgets. Pure.
 */
import type { Email } from 'postal-mime';
import { htmlToText } from './html-text';

export interface BodyText {
	/** The text body, or the HTML's rendition when `fromHtml`; '' when there is neither. */
	text: string;
	/** True when the message has HTML and no text that is more than white space. */
	fromHtml: boolean;
}

export function readBodyText(parsed: Pick<Email, 'text' | 'html'>): BodyText {
	const fromHtml = !parsed.text?.trim() && Boolean(parsed.html);
	return { text: fromHtml ? htmlToText(parsed.html!) : (parsed.text ?? ''), fromHtml };
}
