/**
 * Issue 19 (SPEC §16 "Words match the mailbox"): the sending test's words for a mailbox's Sign-in
 * method. A mailbox that signs in with OAuth has no password, so it is never told about one; one
 * that sends through its provider's API (SPEC §14) connects to no SMTP server, so it is not told
 * about one either.
 */
import { oauthProviderLabels, sendViaLabels, type OAuthProvider, type SendVia, type SmtpAuth } from '$lib/schema/mailbox';
import { smtpCategoryLabels, smtpStageLabels, type SmtpCategory, type SmtpStage } from '$lib/schema/smtp-test';

/**
 * How a mailbox sends, as far as its words go: its Sign-in method, its OAuth provider (null with a
 * password), and whether the provider's API sends for it (SPEC §14) rather than an SMTP server.
 */
export interface SendMethod {
	auth: SmtpAuth;
	provider: OAuthProvider | null;
	api: boolean;
}

export const PASSWORD_SMTP: SendMethod = { auth: 'password', provider: null, api: false };

/** The method of a mailbox's saved settings or of the form's (`sendVia` absent: saved before SPEC §14, so SMTP). */
export function sendMethodOf(smtp: { auth?: SmtpAuth; sendVia?: SendVia; provider?: OAuthProvider | null }): SendMethod {
	const auth = smtp.auth ?? 'password';
	const provider = auth === 'oauth2' ? (smtp.provider ?? null) : null;
	return { auth, provider, api: provider !== null && smtp.sendVia === 'api' };
}

/** SPEC §14: the stages only an API send has; an attempt that stopped at one was an API send. */
export function isApiStage(stage: SmtpStage): boolean {
	return stage === 'token' || stage === 'send';
}

/** "the Microsoft Graph API", "the Gmail API" ("the provider's API" when the provider is not known). */
export function theApi(provider: OAuthProvider | null): string {
	return provider ? `the ${sendViaLabels(provider).api}` : 'the provider’s API';
}

/**
 * SPEC §14: why a grant for the other Send through method does not do (Microsoft issues access per
 * resource; each method has its own scope): "sending through the Microsoft Graph API needs another
 * consent from Microsoft".
 */
export function anotherConsent(provider: OAuthProvider, sendVia: SendVia): string {
	const through = sendVia === 'api' ? theApi(provider) : 'the SMTP server';
	return `sending through ${through} needs another consent from ${provider === 'microsoft' ? 'Microsoft' : 'Google'}`;
}

/** "Microsoft 365", "Google" ("the provider" when not known). */
export function providerName(provider: OAuthProvider | null): string {
	return provider ? oauthProviderLabels[provider] : 'the provider';
}

/** What the test, the history and the badges call the sending test. */
export interface TestWords {
	title: string;
	resultLabel: string;
	historyTitle: string;
	noneYet: string;
	/** What the test does, under its title. */
	explains: string;
	running: string;
	offline: string;
	/** A test refused before anything went out. */
	nothingSent: string;
}

/** SPEC §4: the SMTP sending test; SPEC §14: an API mailbox's test connects to no SMTP server. */
export function testWords(method: SendMethod): TestWords {
	if (method.api) {
		const provider = providerName(method.provider);
		const api = theApi(method.provider);
		return {
			title: 'Sending test',
			resultLabel: 'Sending test result',
			historyTitle: 'Sending test history',
			noneYet: 'No sending test has run yet',
			explains: `Gets an access token from ${provider} and sends a short test message through ${api}.`,
			// The Worker waits at most 30 s for the provider's answer (SPEC §14).
			running: `Sending the test message through ${api}; this takes at most 30 seconds.`,
			offline: 'The sending test needs the network. Run it once back online; your settings are saved on this device meanwhile.',
			nothingSent: `Nothing was sent: the settings were refused before asking ${provider}.`
		};
	}
	return {
		title: 'SMTP sending test',
		resultLabel: 'SMTP test result',
		historyTitle: 'SMTP test history',
		noneYet: 'No SMTP test has run yet',
		explains: 'Connects to the server with these settings, logs in and sends a short test message.',
		running: 'Testing the connection; this takes at most 15 seconds.',
		offline: 'The SMTP test needs the network. Connect to run it; your settings are saved on this device meanwhile.',
		nothingSent: 'Nothing was sent: the settings were refused before connecting.'
	};
}

/**
 * A send's own words as shown under the caption: an SMTP reply carries its code in its text; an
 * API's answer keeps the HTTP status apart from the provider's code and message (SPEC §14), so
 * the status goes in front ("403 ErrorSendAsDenied: …"). Null when nobody answered.
 */
export function serverWordsOf(outcome: { stage: SmtpStage; code?: number; serverMessage?: string }): string | null {
	const words = outcome.serverMessage;
	if (!words) return null;
	if (!isApiStage(outcome.stage) || outcome.code === undefined || words.startsWith(String(outcome.code))) return words;
	return `${outcome.code} ${words}`;
}

/** The caption over the server's own words: an API's answer is the provider's, not a server's dialogue. */
export function serverWordsCaption(method: SendMethod): string {
	return method.api ? `${providerName(method.provider)} answered` : 'The server said';
}

export function smtpCategoryLabel(category: SmtpCategory, method: SendMethod = PASSWORD_SMTP): string {
	if (category === 'auth' && method.auth === 'oauth2') return 'Sign-in';
	if (category === 'rejected' && method.api) return `Refused by ${providerName(method.provider)}`;
	return smtpCategoryLabels[category];
}

/** "Sign-in, at Log in": what failed and where, in the labels the result shows (not the API's codes). */
export function smtpFailureSummary(category: string | null, stage: string, method: SendMethod = PASSWORD_SMTP): string {
	const what = category && category in smtpCategoryLabels ? smtpCategoryLabel(category as SmtpCategory, method) : null;
	const where = stage in smtpStageLabels ? smtpStageLabels[stage as SmtpStage] : stage;
	return what ? `${what}, at ${where}` : `at ${where}`;
}
