/**
 * Webhook signing secrets (SPEC §11): `whsec_` + base64 of 32 random bytes, the form every
 * Standard Webhooks library takes. Kept sealed with the same AES-GCM box as SMTP passwords
 * (STYLE §15), bound to the integration, so a sealed secret copied to another row is useless.
 */
import { decryptSecret, encryptSecret } from '../crypto/secret-box';
import { bytesToBase64 } from '../mail/base64';

const SECRET_BYTES = 32;

export function newWebhookSecret(): string {
	const bytes = crypto.getRandomValues(new Uint8Array(SECRET_BYTES));
	return `whsec_${bytesToBase64(bytes)}`;
}

const boundTo = (integrationId: string) => `integration:${integrationId}:webhook`;

export function sealWebhookSecret(env: Env, integrationId: string, secret: string): Promise<string> {
	return encryptSecret({ plain: secret, secret: env.SMTP_ENCRYPTION_KEY, boundTo: boundTo(integrationId) });
}

export function openWebhookSecret(env: Env, integrationId: string, sealed: string): Promise<string> {
	return decryptSecret({ sealed, secret: env.SMTP_ENCRYPTION_KEY, boundTo: boundTo(integrationId) });
}
