/**
 * Two notices of the Exim school that name each recipient their own way. Pure.
 * - DragonFly Mail Agent (dma, DragonFly BSD's and Debian's small MTA): "There was an error
 *   delivering your mail to <addr>.", the remote server's reply after "host [ip] did not like
 *   our RCPT TO:", the returned headers after "Message headers follow." (or the whole message
 *   after "Original message follows.").
 * - GMX and Web.de (1&1's mail systems): the address quoted, `"addr":`, then "SMTP error from
 *   remote server after RCPT command:", "host: mx.example.jp" and the reply; or `<addr>`
 *   with a "Reason:" paragraph; the returned headers after "--- The header of the original
 *   message is following. ---".
 */
const ADDRESS = String.raw`([^\s<>@()",;:]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){1,10})`;
const HOST = String.raw`([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?){1,10})`;

export const DRAGONFLY_RECIPIENT = new RegExp(String.raw`^There was an error delivering your mail to <${ADDRESS}>\.[ \t]*$`);
export const GMX_RECIPIENT = new RegExp(String.raw`^[ \t]*"${ADDRESS}":[ \t]*$`);

export const DRAGONFLY_REPORTING_MTA = new RegExp(String.raw`^This is the DragonFly Mail Agent \S{1,20} at ${HOST}\.`, 'm');
export const DRAGONFLY_REMOTE_MTA = new RegExp(String.raw`^${HOST}\.? \[[0-9A-Fa-f.:]{2,45}\] did not like our `, 'm');
export const GMX_REMOTE_MTA = new RegExp(String.raw`^host:[ \t]+${HOST}\.?[ \t]*$`, 'm');

/** Reasons these notices give in words, as RFC 3463 codes. */
const SENTENCES: ReadonlyArray<readonly [RegExp, string]> = [
	// dma: the recipient domain has no MX or address record, X.1.2 bad destination system address.
	[/^DNS lookup failure: host \S{1,255} not found/m, '5.1.2'],
	// GMX gave up retrying: X.4.7 delivery time expired.
	[/^delivery retry timeout exceeded/im, '5.4.7']
];

export function dragonflyGmxStatus(text: string): string | null {
	return SENTENCES.find(([pattern]) => pattern.test(text))?.[1] ?? null;
}
