/** Small readers shared by the bounce formats: header-style fields, typed values, part text. Pure. */
import type { Address, Attachment } from 'postal-mime';
import { base64ToBytes } from '../../mail/base64';

export interface Field {
	/** Lower case. */
	name: string;
	/** Unfolded (RFC 5322 §2.2.3), runs of white space collapsed. */
	value: string;
}

/** Header-style fields in blank-line separated groups: RFC 3464 §2.1's per-message and per-recipient groups, or a header block. */
export function parseFieldGroups(text: string): Field[][] {
	const groups: Field[][] = [];
	let group: Field[] = [];
	for (const line of text.replace(/\r\n?/g, '\n').split('\n')) {
		if (line.trim() === '') {
			if (group.length > 0) groups.push(group);
			group = [];
		} else if (/^[ \t]/.test(line)) {
			const last = group[group.length - 1];
			if (last) last.value = collapse(`${last.value} ${line}`);
		} else {
			const colon = line.indexOf(':');
			if (colon > 0) group.push({ name: line.slice(0, colon).trim().toLowerCase(), value: collapse(line.slice(colon + 1)) });
		}
	}
	if (group.length > 0) groups.push(group);
	return groups;
}

/** The text of a report or returned part, its first `limit` characters (or bytes) only. */
export function attachmentText(attachment: Attachment, limit: number): string {
	const { content } = attachment;
	if (typeof content === 'string') {
		if (attachment.encoding !== 'base64') return content.slice(0, limit);
		return new TextDecoder().decode(base64ToBytes(content.slice(0, Math.ceil((limit * 4) / 3 / 4) * 4)));
	}
	const bytes = content instanceof Uint8Array ? content : new Uint8Array(content);
	return new TextDecoder().decode(bytes.subarray(0, limit));
}

/** RFC 3464 §2.1.2 typed fields: "rfc822; x@y", "dns; host", "smtp; 550 …". */
export function stripTypePrefix(value: string): string {
	return collapse(value.replace(/^\s*[A-Za-z][A-Za-z0-9-]*\s*;\s*/, ''));
}

/** A dns-type MTA name, without the type, a trailing comment (Gmail adds "(ip, the server for …)") or the root dot. */
export function cleanMtaName(value: string): string | null {
	const name = stripTypePrefix(value)
		.replace(/\s*\([^()]*\)\s*$/, '')
		.replace(/\.$/, '');
	return name || null;
}

export function cleanAddress(value: string): string {
	return value.trim().replace(/^<(.*)>$/, '$1').trim();
}

export function collapse(text: string): string {
	return text.replace(/\s+/g, ' ').trim();
}

export function firstMatch(patterns: readonly RegExp[], text: string): string | null {
	for (const pattern of patterns) {
		const match = pattern.exec(text);
		if (match?.[1]) return match[1];
	}
	return null;
}

export function header(headers: ReadonlyArray<{ key: string; value: string }>, name: string): string | undefined {
	return headers.find((h) => h.key === name)?.value;
}

export function addressesOf(list: readonly Address[] | undefined): string[] {
	return (list ?? []).flatMap((a) => (a.group ? a.group.map((m) => m.address) : [a.address]));
}
