/**
 * RFC 1870 (SMTP SIZE): a server that offers `SIZE n` takes no message larger than n bytes. The
 * client declares the size on MAIL FROM and does not upload a message the server would refuse
 * after receiving all of it (an 11 MB reply went out in full to a 10 MB Postfix, then `552 5.3.4`).
 */

const encoder = new TextEncoder();

/**
 * RFC 1870 §4: the message's size in bytes with CRLF line ends, without the dot-stuffing and
 * the final dot (what `stuffDots` turns it into on the wire, less those).
 */
export function messageSize(message: string): number {
	const lines = message.replace(/\r\n|\r|\n/g, '\r\n');
	return encoder.encode(lines).byteLength + (lines.endsWith('\r\n') ? 0 : 2);
}

/** Over the server's limit (0: it announced SIZE without one), or null when it fits. */
export function exceedsSize(bytes: number, limit: number | null): { bytes: number; limit: number } | null {
	return limit !== null && limit > 0 && bytes > limit ? { bytes, limit } : null;
}

/** What the admin reads when a message was not sent for its size: both sizes, and what to do. */
export function tooLargeHint({ bytes, limit }: { bytes: number; limit: number }): string {
	return (
		`The message is ${megabytes(bytes)} (${bytes} bytes) and the server takes at most ${megabytes(limit)} (${limit} bytes, its SIZE), ` +
		'so it was not sent. Send it again with smaller or fewer attachments, or share large files as links.'
	);
}

const megabytes = (bytes: number) => `${(bytes / 1_000_000).toFixed(1)} MB`;
