/**
 * The new text of a reply (SPEC §11 `message.received` `reply`): quoted history, "On ... wrote:"
 * blocks, Outlook header blocks and signatures removed, so a ticket shows what the customer just
 * wrote. email-reply-parser (Crisp's port of GitHub's EmailReplyParser, ~10 locales) decides;
 * the rules below only cover what it misses or gets wrong, each with the client that needs it.
 * Pure: a string in, a string out.
 */
import EmailReplyParser from 'email-reply-parser';

type Fragment = ReturnType<ReturnType<EmailReplyParser['read']>['getFragments']>[number];

/**
 * How much of the text the parser reads (see scanWindow). Without the optional `re2` engine,
 * which workerd cannot load, several of its patterns backtrack catastrophically on hostile
 * text (crisp-oss/email-reply-parser#39): the "schreef", "skrev" and "写道" patterns are cubic in
 * the number of lines, "on ... at ... wrote:", "HH:II ... NAME <EMAIL>:" and "DATE ... from
 * NAME <EMAIL>:" in the length of a line (the last one took 2 s on one crafted line of 1,000
 * characters, issue 18). 4 KiB of short lines took it about 0.5 s, 8 KiB about 2 s, 16 KiB
 * several seconds. The window holds at most 100 lines, and a line longer than 200 characters
 * reaches the parser as a placeholder: the quote headers it looks for ("On Mon, 30 Nov 2026
 * at 09:12, NAME <EMAIL> wrote:" and its translations) are well under 200 characters, and at
 * that length the worst line we found costs it under a millisecond (the "from" pattern aside,
 * see DATED_FROM_HEADER). New text sits at the top of a reply, so the window holds it and the
 * start of the history in all but very long messages; past the window the text is kept as it
 * is when the window ends inside the new text.
 */
export const REPLY_SCAN_CHARS = 4096;
export const REPLY_SCAN_LINES = 100;
export const REPLY_SCAN_LINE_CHARS = 200;

/**
 * Outlook (Windows, web, iOS) starts the earlier message with a header block; in English,
 * German and French: "From: / Sent: / To: / Subject:", "Von: / Gesendet: / An: / Betreff:",
 * "De : / Envoyé : / À : / Objet :". The parser only knows the From line when it carries an
 * address in <> or [], and Outlook leaves the address out for address-book contacts
 * ("Von: Acme Support"). A From line, a Sent line and a Subject line soon after are the block
 * whatever the From line holds. Found in the whole text, so a long reply still loses it.
 */
const OUTLOOK_FROM_SENT = /^(?:From|Von|De)[ \u00a0]?:[^\n]+\n(?:Sent|Gesendet|Envoyé)[ \u00a0]?:[ \u00a0]*\S/gm;
const OUTLOOK_SUBJECT = /^(?:Subject|Betreff|Objet)[ \u00a0]?:/;
/** Lines between Sent and Subject: To, Cc, and sometimes Importance. */
const OUTLOOK_HEADER_LINES = 4;

/**
 * The parser also hides a closing line such as "Kind regards" or "Cordialement" as a
 * signature, and with it everything below (a name, but also a "P.S."), while keeping the
 * closings it does not know ("Mit freundlichen Grüßen", "Thanks"). These are the customer's
 * words, so a fragment it hid for starting with one of its closings (the same patterns as its
 * own list in dist/regex.js) stays. Real signatures ("-- ", "Sent from my iPhone", "Get
 * Outlook for iOS" and the like) still go.
 */
const CLOSINGS = [
	/^\w{0,20}\s?(\sand\s)?Regards,?!?！?$/i,
	/^Cheers,?!?$/i,
	/^Best wishes,?!?$/i,
	/^Bien . vous,?!?$/i,
	/^\w{0,20}\s?cordialement,?!?$/i,
	/^Bonne (journ.e|soir.e)!?$/i
];

/** A line the parser reads as quoted: it starts with ">" (its own test). */
const QUOTED_LINE = /^>/;

export function extractReply(text: string): string {
	const original = text.trim();
	if (original === '') return '';

	const unix = text.replace(/\r\n?/g, '\n');
	const block = outlookHeaderBlock(unix);
	const { lines, longLines, rest } = scanWindow(block === -1 ? unix : unix.slice(0, block));

	const fragments = new EmailReplyParser().read(lines.join('\n')).getFragments();
	let reply = joinVisible(fragments)
		.replaceAll(BROKEN_FROM, 'from')
		.replace(LONG_LINE_PLACEHOLDER, (match, index: string) => longLines[Number(index)] ?? match);
	// The window ended inside the new text: what follows it was not looked at, so it stays.
	const last = fragments.filter((fragment) => !fragment.isEmpty()).at(-1);
	if (rest !== '' && (last === undefined || isVisible(last))) reply = `${reply}\n${rest}`;
	reply = reply.trim();
	// Nothing left (a reply sent with nothing typed, a bare forward): the text is all there is.
	return reply === '' ? original : reply;
}

/** Where an Outlook header block starts, or -1. */
function outlookHeaderBlock(text: string): number {
	for (const match of text.matchAll(OUTLOOK_FROM_SENT)) {
		let newline = text.indexOf('\n', match.index + match[0].length);
		for (let line = 0; newline !== -1 && line <= OUTLOOK_HEADER_LINES; line++) {
			if (OUTLOOK_SUBJECT.test(text.slice(newline + 1, newline + 16))) return match.index;
			newline = text.indexOf('\n', newline + 1);
		}
	}
	return -1;
}

/**
 * A line longer than REPLY_SCAN_LINE_CHARS reaches the parser as U+E000, its index, U+E000
 * (private-use characters), after a ">" if it is quoted: no quote header or signature line is
 * that long, and the placeholder keeps whether it is quoted.
 */
const LONG_LINE_PLACEHOLDER = />?\uE000(\d+)\uE000/g;

/**
 * The parser's "DATE ... from NAME <EMAIL>:" quote header, `/^(.*)[0-9]{4}(.*)from(.*)<(.*)>:$/`,
 * tries every (four digits, "from", "<") triple of a line before it fails: a 200-character line
 * of digits, "from"s and "<"s costs it 3-4 ms, and the window holds twenty. This is the same
 * test in linear time: each lookahead takes the earliest match and is never re-entered (a
 * later digit run, "from" or "<" can only leave less room for the rest).
 */
const DATED_FROM_HEADER = /^(?=(.*?[0-9]{4}))\1(?=(.*?from))\2(?=(.*?<))\3.*>:$/;
const FOUR_DIGITS = /[0-9]{4}/;
/**
 * In a line that is not such a header, every "from" after its first four digits reaches the
 * parser with U+E001 inside, so the pattern fails at once (as it would have), and no other
 * pattern reads a "from" there ("Sent from ..." starts its line). Taken out again after.
 */
const BROKEN_FROM = 'fr\uE001om';

/** The line as the parser reads it, "from"s broken where the dated-from pattern would backtrack. */
function disarmDatedFrom(line: string): string {
	const digits = FOUR_DIGITS.exec(line);
	if (digits === null || DATED_FROM_HEADER.test(line)) return line;
	const cut = digits.index + 4;
	return line.slice(0, cut) + line.slice(cut).replaceAll('from', BROKEN_FROM);
}

/**
 * The lines the parser sees (the window: REPLY_SCAN_CHARS, REPLY_SCAN_LINES), the long lines
 * they stand for, and the text after the window, reading no further than the window needs.
 * Lines lose trailing white space (the parser trims them too) and a run of blank lines
 * becomes one: the parser's many `^\s*` patterns rescan a run from every line in it, so a few
 * thousand blank lines cost seconds. A run of quoted lines becomes its first line: the parser
 * hides a quoted run whatever its length, and a long quote above a bottom-posted reply
 * (Thunderbird's default) must not use up the window.
 */
function scanWindow(text: string): { lines: string[]; longLines: string[]; rest: string } {
	const lines: string[] = [];
	const longLines: string[] = [];
	let size = 0;
	let previous: 'blank' | 'quoted' | 'text' = 'blank';
	for (let start = 0; start < text.length; ) {
		const newline = text.indexOf('\n', start);
		const end = newline === -1 ? text.length : newline;
		const line = text.slice(start, end).trimEnd();
		const kind = line === '' ? 'blank' : QUOTED_LINE.test(line) ? 'quoted' : 'text';
		if (kind === 'text' || kind !== previous) {
			const long = line.length > REPLY_SCAN_LINE_CHARS;
			const seen = long ? `${kind === 'quoted' ? '>' : ''}\uE000${longLines.length}\uE000` : disarmDatedFrom(line);
			size += seen.length + 1;
			if (lines.length === REPLY_SCAN_LINES || size > REPLY_SCAN_CHARS) return { lines, longLines, rest: text.slice(start) };
			if (long) longLines.push(line);
			lines.push(seen);
		}
		previous = kind;
		start = end + 1;
	}
	return { lines, longLines, rest: '' };
}

function isVisible(fragment: Fragment): boolean {
	if (!fragment.isHidden()) return true;
	if (!fragment.isSignature() || fragment.isQuoted()) return false;
	const first = fragment.getContent().split('\n').find((line) => line.trim() !== '') ?? '';
	return CLOSINGS.some((closing) => closing.test(first.trim()));
}

/**
 * The visible fragments in order. Neighbours keep the line break between them; where a hidden
 * fragment (an inline quote) was taken out, the text around it meets as two paragraphs.
 */
function joinVisible(fragments: Fragment[]): string {
	let reply = '';
	let removed = false;
	for (const fragment of fragments) {
		if (!isVisible(fragment)) {
			removed = true;
			continue;
		}
		const content = fragment.getContent();
		if (reply === '') reply = content;
		else if (removed) reply = `${reply.trimEnd()}\n\n${content.replace(/^\s*\n/, '')}`;
		else reply = `${reply}\n${content}`;
		removed = false;
	}
	return reply;
}
