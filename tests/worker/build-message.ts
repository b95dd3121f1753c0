/**
 * Small message variants for the inbound tests (STYLE.md §9: real .eml fixtures for the
 * common shapes, this helper for one-rule-at-a-time variants). Output uses CRLF line ends
 * (RFC 5322 §2.1) and is returned as bytes, so 8-bit bodies stay byte-exact.
 */

export interface PartOptions {
	/** Full Content-Type value, parameters included; `text/plain; charset=utf-8` by default. */
	contentType?: string;
	/** A string is written as UTF-8 with LF turned into CRLF; bytes are written as they are. */
	body: string | Uint8Array;
	transferEncoding?: string;
	disposition?: string;
}

export interface MessageOptions {
	/** Trace and extra fields placed above the standard ones, top first (Received, Resent-*, ...). */
	headers?: Array<[string, string]>;
	/** Without angle brackets; `test-0001@customer.example` by default. */
	messageId?: string;
	from?: string;
	to?: string;
	cc?: string;
	subject?: string;
	/** No parts: a message without a body. Several parts: a multipart of `multipart` kind. */
	parts?: PartOptions[];
	multipart?: string;
}

const encoder = new TextEncoder();

export function buildMessage(options: MessageOptions = {}): Uint8Array {
	const { headers = [], messageId = 'test-0001@customer.example', from = 'Alice Customer <alice@customer.example>', to = 'support@help.acme.example', subject = 'A question', parts = [] } = options;
	const top: Array<[string, string]> = [
		...headers,
		['Message-ID', `<${messageId}>`],
		['Date', 'Tue, 14 Oct 2025 12:00:00 +0000'],
		['MIME-Version', '1.0'],
		['From', from],
		['To', to],
		...(options.cc ? ([['Cc', options.cc]] as Array<[string, string]>) : []),
		['Subject', subject]
	];
	const chunks: Uint8Array[] = [];
	const write = (value: string | Uint8Array) => chunks.push(typeof value === 'string' ? encoder.encode(value.replace(/\r?\n/g, '\r\n')) : value);
	for (const [name, value] of top) write(`${name}: ${value}\n`);
	if (parts.length === 1) {
		writePart(parts[0]!, write);
	} else if (parts.length > 1) {
		const boundary = '=_boundary_5f1e';
		write(`Content-Type: multipart/${options.multipart ?? 'mixed'}; boundary="${boundary}"\n\n`);
		for (const part of parts) {
			write(`--${boundary}\n`);
			writePart(part, write);
			write('\n');
		}
		write(`--${boundary}--\n`);
	} else {
		write('\n');
	}
	const result = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
	let offset = 0;
	for (const chunk of chunks) {
		result.set(chunk, offset);
		offset += chunk.length;
	}
	return result;
}

function writePart(part: PartOptions, write: (value: string | Uint8Array) => void): void {
	write(`Content-Type: ${part.contentType ?? 'text/plain; charset=utf-8'}\n`);
	if (part.transferEncoding) write(`Content-Transfer-Encoding: ${part.transferEncoding}\n`);
	if (part.disposition) write(`Content-Disposition: ${part.disposition}\n`);
	write('\n');
	write(part.body);
}

/** Latin-1 bytes of a string whose characters are all U+0000–U+00FF. */
export function latin1(text: string): Uint8Array {
	return Uint8Array.from(text.replace(/\r?\n/g, '\r\n'), (c) => c.charCodeAt(0));
}
