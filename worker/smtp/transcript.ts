/**
 * Records the SMTP dialogue as "C: …" / "S: …" lines with every secret removed: AUTH
 * payloads, the exchange after AUTH LOGIN, 334 challenges, and, as a last line of defence,
 * the password and its base64 forms wherever they appear. The message body is summarised.
 */

const REDACTED = '[redacted]';

export class Transcript {
	readonly lines: string[] = [];
	private inAuth = false;
	private inBody = false;
	private readonly secrets: string[];

	constructor(options: { username: string; password: string }) {
		const { username, password } = options;
		this.secrets = password
			? [
					password,
					toBase64(password),
					toBase64(`\u0000${username}\u0000${password}`),
					toBase64(`${username}\u0000${username}\u0000${password}`)
				].sort((a, b) => b.length - a.length)
			: [];
	}

	client(data: string): void {
		if (this.inBody) {
			const lines = data.split(/\r\n/).length - 1;
			this.push(`C: [message, ${lines} lines, ${data.length} bytes]`);
			this.inBody = false;
			return;
		}
		for (const line of splitLines(data)) {
			if (/^AUTH\s/i.test(line)) {
				const [, mechanism = ''] = /^AUTH\s+(\S+)/i.exec(line) ?? [];
				const hasPayload = /^AUTH\s+\S+\s+\S/i.test(line);
				this.push(`C: AUTH ${mechanism.toUpperCase()}${hasPayload ? ` ${REDACTED}` : ''}`);
				this.inAuth = true;
			} else if (this.inAuth) {
				this.push(`C: ${REDACTED}`);
			} else {
				this.push(`C: ${line}`);
			}
		}
	}

	server(data: string): void {
		for (const line of splitLines(data)) {
			if (/^334[ -]?/.test(line)) {
				this.push(`S: 334 ${REDACTED}`);
				continue;
			}
			// Any final reply ends the SASL exchange (RFC 4954 §4).
			if (this.inAuth && /^[2-5]\d\d /.test(line)) this.inAuth = false;
			if (/^354/.test(line)) this.inBody = true;
			this.push(`S: ${line}`);
		}
	}

	note(text: string): void {
		this.push(`-- ${text}`);
	}

	private push(line: string): void {
		let safe = line;
		for (const secret of this.secrets) safe = safe.split(secret).join(REDACTED);
		this.lines.push(safe);
	}
}

function splitLines(data: string): string[] {
	return data.split(/\r?\n/).filter((line) => line.length > 0);
}

function toBase64(text: string): string {
	const bytes = new TextEncoder().encode(text);
	let binary = '';
	for (const byte of bytes) binary += String.fromCharCode(byte);
	return btoa(binary);
}
