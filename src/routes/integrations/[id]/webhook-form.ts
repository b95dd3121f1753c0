/**
 * The webhook form's rules (SPEC §11), pure: the shared schema and URL rules, and the draft the
 * sync engine sends. The browser cannot know whether this Mailgate allows local hosts
 * (ALLOW_PRIVATE_WEBHOOK_HOSTS), so it checks with them allowed and warns where a production
 * Mailgate refuses; the Worker's 422 then lands on the field like any server verdict.
 */
import type { WebhookDraft } from '$lib/offline/db';
import { orderedEvents } from '$lib/offline/sync';
import { fieldErrors, type FieldErrors } from '$lib/schema/api-error';
import { checkWebhookUrl, defaultWebhookEvents, webhookSettingsSchema, type WebhookEventType } from '$lib/schema/webhook';

export interface WebhookFormValues {
	url: string;
	events: WebhookEventType[];
}

/** The paths of the form's fields in server field errors. */
export const URL_PATH = 'webhook.url';
export const EVENTS_PATH = 'webhook.events';

export function valuesFromWebhook(webhook: WebhookDraft | null | undefined): WebhookFormValues {
	return webhook ? { url: webhook.url, events: orderedEvents(webhook.events) } : { url: '', events: [...defaultWebhookEvents] };
}

export type WebhookValidation = { ok: true; webhook: WebhookDraft } | { ok: false; errors: FieldErrors };

export function validateWebhook(values: WebhookFormValues): WebhookValidation {
	const parsed = webhookSettingsSchema.safeParse(values);
	const errors: FieldErrors = {};
	if (!parsed.success) {
		for (const [path, message] of Object.entries(fieldErrors(parsed.error.issues))) {
			errors[path.startsWith('events') ? EVENTS_PATH : URL_PATH] ??= message;
		}
	}
	const url = values.url.trim();
	const refusal = url && !errors[URL_PATH] ? checkWebhookUrl(url, true) : null;
	if (refusal) errors[URL_PATH] = refusal;
	if (!parsed.success || refusal) return { ok: false, errors };
	// The Worker keeps the URL as the URL parser writes it; the draft does too, so both compare equal.
	return { ok: true, webhook: { url: new URL(parsed.data.url).href, events: orderedEvents(parsed.data.events) } };
}

/** Whether the text typed so far is a URL at all (before it is, "enter a full URL" waits for the blur). */
export function looksLikeUrl(value: string): boolean {
	try {
		new URL(value.trim());
		return true;
	} catch {
		return false;
	}
}

/** Not blocking: what a Mailgate in production (local hosts not allowed) says about this URL. */
export function productionWarning(url: string): string | undefined {
	if (!looksLikeUrl(url) || checkWebhookUrl(url.trim(), true)) return undefined;
	const refusal = checkWebhookUrl(url.trim(), false);
	return refusal ? `Only a Mailgate run locally (npm start) accepts this URL. In production: ${refusal}` : undefined;
}

export function sameValues(a: WebhookFormValues, b: WebhookFormValues): boolean {
	return a.url.trim() === b.url.trim() && orderedEvents(a.events).join() === orderedEvents(b.events).join();
}
