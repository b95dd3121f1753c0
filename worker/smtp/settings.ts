/**
 * Where an SMTP session connects and how it logs in: plain values, shared by the session, its
 * transcript (which must know the secret to redact it) and send/credentials.ts, which makes them.
 */
import type { Encryption } from '../../src/lib/schema/mailbox';

/**
 * How the session logs in (SPEC §12): the mailbox's password (AUTH PLAIN or LOGIN), or an OAuth
 * 2.0 access token (AUTH XOAUTH2). send/credentials.ts is where a mailbox's comes from.
 */
export type SmtpCredential = { kind: 'password'; password: string } | { kind: 'oauth2'; accessToken: string };

export interface SmtpSettings {
	host: string;
	port: number;
	username: string;
	encryption: Encryption;
	credential: SmtpCredential;
}
