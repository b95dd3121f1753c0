/**
 * Issue 19 (SPEC §16 "Words match the mailbox"): the SMTP test's words for a mailbox's Sign-in
 * method. A mailbox that signs in with OAuth has no password, so it is never told about one.
 */
import type { SmtpAuth } from '$lib/schema/mailbox';
import { smtpCategoryLabels, smtpStageLabels, type SmtpCategory, type SmtpStage } from '$lib/schema/smtp-test';

export function smtpCategoryLabel(category: SmtpCategory, auth: SmtpAuth = 'password'): string {
	if (category === 'auth' && auth === 'oauth2') return 'Sign-in';
	return smtpCategoryLabels[category];
}

/** "Sign-in, at Log in": what failed and where, in the labels the result shows (not the API's codes). */
export function smtpFailureSummary(category: string | null, stage: string, auth: SmtpAuth = 'password'): string {
	const what = category && category in smtpCategoryLabels ? smtpCategoryLabel(category as SmtpCategory, auth) : null;
	const where = stage in smtpStageLabels ? smtpStageLabels[stage as SmtpStage] : stage;
	return what ? `${what}, at ${where}` : `at ${where}`;
}
