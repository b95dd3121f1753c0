/**
 * What a login for sending is made of, apart from how it is made (credentials.ts makes it; the
 * transports and the sender read it): why one could not be made, and an API mailbox's sign-in.
 */
import type { SmtpCategory, SmtpStage } from '../../src/lib/schema/smtp-test';
import type { AccessFailure } from '../oauth/tokens';
import type { ApiRoute } from './api-request';

/** A login that could not be made, with the words the admin sees. */
export interface LoginFailure {
	/** Why, for callers that answer some of them differently (the SMTP test's 503 for an undecryptable password). */
	reason: 'password_undecryptable' | 'settings_changed' | 'not_provider_server' | 'unencrypted' | AccessFailure['reason'];
	stage: SmtpStage;
	category: SmtpCategory;
	hint: string;
	/** Worth trying again later by itself (a provider that did not answer), as retry-policy.ts decides for replies. */
	temporary: boolean;
}

/** An API mailbox's login (send/credentials.ts): where to send, the access token, and how to renew it. */
export interface ApiSignIn extends ApiRoute {
	accessToken: string;
	/** How long getting the access token took (the `token` step). */
	tokenMs: number;
	/** A new access token from the provider (after a 401), or why none could be had. */
	renew(): Promise<{ ok: true; accessToken: string } | { ok: false; failure: LoginFailure }>;
}
