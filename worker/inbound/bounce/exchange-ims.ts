/**
 * Exchange 5.5 to 2003 non-delivery reports from the Internet Mail Service or Connector
 * (`X-Mailer: Internet Mail Service (5.5.x)`) and Exchange 2000/2003's SMTP transport: "Your
 * message … did not reach the following recipient(s)" or "did not reach some or all of the
 * intended recipients … The following recipient(s) could not be reached", the returned
 * message attached to a `multipart/mixed`. Each recipient is "address on DATE" followed by
 * indented reason lines, which end with an IMS error code "(000C05A6)" or the generating
 * server and status "<host #5.1.1>". Pure.
 */

/** The two date shapes the reports write after "on": RFC 5322's and the Windows locale's ("4/29/01 11:34:45 PM"). */
const DATE = String.raw`(?:(?:[A-Z][a-z]{2}, )?\d{1,2} [A-Z][a-z]{2} \d{4} \d{1,2}:\d{2}(?::\d{2})?(?: [+-]\d{4})?|\d{1,2}/\d{1,2}/\d{2,4} \d{1,2}:\d{2}(?::\d{2})?(?: [AP]M)?)`;
/** "kijitora@example.co.jp on Thu, 29 Apr 2007 16:51:51 -0500"; the IMC quotes the address ('user@host'). */
export const EXCHANGE_RECIPIENT = new RegExp(String.raw`^[ \t]*'?([^\s'<>@()",;:]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){1,10})'? on ${DATE}[ \t]*$`);

/** Exchange 2000/2003 SMTP: the generating server and the RFC 3463 status, "<mail.example.com #5.1.1>". */
const SERVER_STATUS = /<[A-Za-z0-9.-]{1,255} #([245]\.\d{1,3}\.\d{1,3})>/;

/**
 * IMS error codes with one meaning (the table sisimai keeps, lib/sisimai/lhost/exchange2003.rb),
 * as RFC 3463 codes; the others ("000B099C" host unknown or message too large…) say too little.
 */
const IMS_CODES: Readonly<Record<string, string>> = {
	'000C05A6': '5.1.1', // Unknown Recipient: X.1.1 bad destination mailbox address
	'000C0595': '5.1.4', // Ambiguous Recipient: X.1.4 destination mailbox address ambiguous
	'00010256': '5.5.3', // Too many recipients: X.5.3
	'00120270': '5.4.6' // Too Many Hops: X.4.6 routing loop detected
};
const IMS_CODE = /\bMSEXCH:[^\n]{0,200}\((0{2}[0-9A-F]{6})\)/;

/** The status a report writes in a recipient's reason lines, or null. */
export function exchangeStatus(text: string): string | null {
	const written = SERVER_STATUS.exec(text)?.[1];
	if (written) return written;
	const code = IMS_CODE.exec(text)?.[1];
	return code ? (IMS_CODES[code] ?? null) : null;
}

/** The reason lines without the X.400 transfer id ("The MTS-ID of the original message is: c=jp;a= ;p=…" and its ";l=…" continuation). */
export function withoutTransferId(lines: readonly string[]): string[] {
	const out: string[] = [];
	let inId = false;
	for (const line of lines) {
		if (/^\s*The MTS-ID of the original message is:/.test(line)) inId = true;
		else if (!(inId && /^\s*;/.test(line))) {
			inId = false;
			out.push(line);
		}
	}
	return out;
}
