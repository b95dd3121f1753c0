/**
 * qmail and its forks (netqmail, notqmail, s/qmail, IndiMail, vpopmail) write their own errors
 * as sentences ending in the status, "(#5.1.1)", which a long line may push onto the next
 * line and some forks leave out. The status is read from the recipient's text: the tail as
 * written, else the sentence qmail writes for it (qmail 1.03 qmail-local.c, qmail-remote.c,
 * qmail-send.c, each with its own tail). Pure.
 */

/** "(#5.1.1)", "(#5.1.1 - chkusr)" (the chkuser patch names itself). */
const TAIL = /\(#([245]\.\d{1,3}\.\d{1,3})(?:[ \t]{0,4}-[ \t]{0,4}[\w.-]{1,40})?\)/;

const SENTENCES: ReadonlyArray<readonly [RegExp, string]> = [
	[/Sorry, no mailbox here by that name/i, '5.1.1'],
	[/Sorry, I couldn't find any host (?:named|by that name)/i, '5.1.2'],
	[/Sorry, I couldn't find a mail exchanger or IP address/i, '5.4.4'],
	[/Sorry, I wasn't able to establish an SMTP connection/i, '4.4.1'],
	[/This message is looping: it already has my Delivered-To line/i, '5.4.6'],
	[/Sorry, that domain isn't in my list of allowed rcpthosts/i, '5.7.1']
];

/** The status qmail wrote in a recipient's text, or null. */
export function qmailStatus(text: string): string | null {
	return TAIL.exec(text)?.[1] ?? SENTENCES.find(([pattern]) => pattern.test(text))?.[1] ?? null;
}
