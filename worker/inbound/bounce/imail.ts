/**
 * Ipswitch IMail Server ("Undeliverable Mail", `X-Mailer: <SMTP32 vX>`): one line per
 * recipient, the reason before the address ("Unknown user: kijitora@example.com"), the
 * returned message after "Original message follows.". The reason is the diagnostic; the
 * statuses are RFC 3463's for what each sentence says. Pure.
 */
const REASONS: ReadonlyArray<readonly [string, string | null]> = [
	['Unknown user', '5.1.1'],
	['Invalid final delivery userid', '5.1.1'],
	['User mailbox exceeds allowed size', '5.2.2'],
	['Unknown host', '5.1.2'],
	// "Delivery failed 20 attempts": gave up retrying, X.4.7 delivery time expired.
	['Delivery failed \\d{1,4} attempts', '5.4.7'],
	['undeliverable to', null]
];
const ADDRESS = String.raw`([^\s<>@()",;:]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){1,10})`;
export const IMAIL_RECIPIENT = new RegExp(String.raw`^[ \t]*(?:${REASONS.map(([words]) => words).join('|')}):? ${ADDRESS}[ \t]*$`);

/** The status an IMail reason line says, or null. */
export function imailStatus(text: string): string | null {
	for (const [words, status] of REASONS) if (status && new RegExp(String.raw`^[ \t]*${words}:? `, 'm').test(text)) return status;
	return null;
}
