/**
 * Message-IDs by the one rule of RFC 5322 §3.6.4 (msg-id), shared by the Worker (what inbound
 * mail says, what a help desk posts) and the app. Everything in a message is the sender's: an
 * id that does not parse strictly is not an id, so nothing that is not one can reach a header
 * we write (In-Reply-To, References) or a lookup. Linear scans, bounded input.
 *
 *   msg-id   = [CFWS] "<" id-left "@" id-right ">" [CFWS]
 *   id-left  = dot-atom-text            (obs-id-left: consecutive dots, as JavaMail writes "..JavaMail")
 *   id-right = dot-atom-text / no-fold-literal ("[" *dtext "]")
 */

/**
 * Longer ids are not taken: RFC 5322 §2.1.1 caps a line at 998 characters, and real ids are
 * under 100 (Outlook's are about 60, Gmail's about 50); 250 leaves room for any generator.
 */
export const MAX_MESSAGE_ID_LENGTH = 250;
/** At most this many ids are read from one In-Reply-To or References field (RFC 5322 §3.6.4 advises short chains). */
export const MAX_MESSAGE_ID_LIST = 100;
/** A field value longer than this is read only up to it: enough for MAX_MESSAGE_ID_LIST ids of usual length. */
const MAX_FIELD_CHARS = 32 * 1024;

/** atext (RFC 5322 §3.2.3) and ".": printable ASCII except specials, space and controls. */
const ID_LEFT = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.]+$/;
const DOT_ATOM_RIGHT = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+(?:\.[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+)*$/;
/** dtext (RFC 5322 §3.4.1): printable ASCII except "[", "]" and "\". */
const NO_FOLD_LITERAL = /^\[[!-Z^-~]*\]$/;

/**
 * True when `id` (without angle brackets) is an id-left "@" id-right of RFC 5322 §3.6.4:
 * printable ASCII only, so never CR, LF, NUL, space or an angle bracket.
 */
export function isMessageId(id: string): boolean {
	if (id.length < 3 || id.length > MAX_MESSAGE_ID_LENGTH) return false;
	const at = id.lastIndexOf('@');
	if (at <= 0) return false;
	const left = id.slice(0, at);
	const right = id.slice(at + 1);
	if (!ID_LEFT.test(left) || left.startsWith('.') || left.endsWith('.')) return false;
	return DOT_ATOM_RIGHT.test(right) || NO_FOLD_LITERAL.test(right);
}

/**
 * One Message-ID field's value (as it stands in the raw header, unfolded) → the id without
 * brackets, or null when it is not exactly one msg-id. A bare id without brackets (some old
 * mailers) is taken when it parses. RFC 2047 encoded words are not decoded: a msg-id is not
 * text (RFC 2047 §5), so `=?UTF-8?Q?…?=` is simply not an id.
 */
export function parseMessageId(value: string | null | undefined): string | null {
	if (!value) return null;
	const trimmed = stripComments(value.slice(0, MAX_FIELD_CHARS)).trim();
	const inner = trimmed.startsWith('<') && trimmed.endsWith('>') ? trimmed.slice(1, -1).trim() : trimmed;
	return isMessageId(inner) ? inner : null;
}

/**
 * An In-Reply-To or References field's value → its msg-ids without brackets, in order, each
 * once, at most `max`. Anything between them that is not a msg-id (a phrase, as obsolete
 * In-Reply-To allows, or garbage) is skipped; an id that fails the syntax is dropped.
 */
export function parseMessageIdList(value: string | null | undefined, max = MAX_MESSAGE_ID_LIST): string[] {
	if (!value) return [];
	const ids: string[] = [];
	const seen = new Set<string>();
	// [^<>]{1,N}: no nesting, no backtracking past a bracket, so the scan is linear.
	for (const match of value.slice(0, MAX_FIELD_CHARS).matchAll(/<([^<>]{1,512})>/g)) {
		const id = match[1]!.trim();
		if (!isMessageId(id) || seen.has(id)) continue;
		seen.add(id);
		ids.push(id);
		if (ids.length >= max) break;
	}
	return ids;
}

/**
 * RFC 5322 §3.2.2 comments around a msg-id ("<a@b> (added by relay)") removed, nested ones
 * and quoted-pairs included, in one pass (a regex with a bounded repeat still retried each
 * start position up to its bound). An unclosed comment runs to the end, as RFC 5322 reads it.
 */
function stripComments(value: string): string {
	let out = '';
	let depth = 0;
	for (let i = 0; i < value.length; i++) {
		const char = value[i];
		if (depth > 0) {
			if (char === '\\') i++;
			else if (char === '(') depth++;
			else if (char === ')') depth--;
			continue;
		}
		if (char === '(') depth = 1;
		else out += char;
	}
	return out;
}
