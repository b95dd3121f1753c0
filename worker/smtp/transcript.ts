/**
 * Records the SMTP dialogue as "C: …" / "S: …" lines with every secret removed: AUTH
 * payloads, the exchange after AUTH LOGIN, 334 challenges, and, as a last line of defence,
 * the password or OAuth access token and their base64 forms wherever they appear. The message
 * body is summarised. An XOAUTH2 refusal's challenge is an error report, not a secret
 * (`{"status":"401","schemes":"Bearer",…}`), so it is shown decoded.
 */
import { base64ToText, textToBase64 } from '../mail/base64';
import type { SmtpCredential } from './settings';

const REDACTED = '[redacted]';

export class Transcript {
	readonly lines: string[] = [];
	private inAuth = false;
	private mechanism = '';
	private inBody = false;
	private readonly secrets: string[];

	constructor(options: { username: string; credential: SmtpCredential }) {
		const { username, credential } = options;
		const secret = credential.kind === 'password' ? credential.password : credential.accessToken;
		const forms =
			credential.kind === 'password'
				? [textToBase64(`\u0000${username}\u0000${secret}`), textToBase64(`${username}\u0000${username}\u0000${secret}`)]
				: [textToBase64(`user=${username}\u0001auth=Bearer ${secret}\u0001\u0001`)];
		this.secrets = secret ? [secret, textToBase64(secret), ...forms].sort((a, b) => b.length - a.length) : [];
	}

	client(data: string): void {
		if (this.inBody) {
			const lines = data.split(/\r\n/).length - 1;
			this.push(`C: [message, ${lines} lines, ${data.length} bytes]`);
			this.inBody = false;
			return;
		}
		// RFC 4954 §4: the empty answer that ends a refused SASL exchange (XOAUTH2's error challenge).
		if (this.inAuth && data.trim() === '') return this.push('C: (empty line)');
		for (const line of splitLines(data)) {
			if (/^AUTH\s/i.test(line)) {
				const [, mechanism = ''] = /^AUTH\s+(\S+)/i.exec(line) ?? [];
				const hasPayload = /^AUTH\s+\S+\s+\S/i.test(line);
				this.mechanism = mechanism.toUpperCase();
				this.push(`C: AUTH ${this.mechanism}${hasPayload ? ` ${REDACTED}` : ''}`);
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
				const report = this.mechanism === 'XOAUTH2' ? xoauth2Error(line.replace(/^334[ -]?/, '').trim()) : null;
				this.push(`S: 334 ${report ?? REDACTED}`);
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

/** The JSON error report in an XOAUTH2 challenge (Google, Microsoft), or null for anything else. */
function xoauth2Error(challenge: string): string | null {
	try {
		const decoded: unknown = JSON.parse(base64ToText(challenge));
		if (!decoded || typeof decoded !== 'object' || Array.isArray(decoded)) return null;
		const fields = Object.entries(decoded as Record<string, unknown>).filter(([, value]) => typeof value === 'string' && value.length <= 200);
		return `[XOAUTH2 error: ${fields.map(([key, value]) => `${key}=${String(value)}`).join(', ')}]`;
	} catch {
		return null;
	}
}

function splitLines(data: string): string[] {
	return data.split(/\r?\n/).filter((line) => line.length > 0);
}
