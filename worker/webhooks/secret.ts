/**
 * Webhook signing secrets (SPEC §11): `whsec_` + base64 of 32 random bytes, the form every
 * Standard Webhooks library takes. Kept sealed with the same AES-GCM box as SMTP passwords
 * (STYLE §15): the sealer's `webhook-secret` purpose binds it to the integration, so a sealed
 * secret copied to another row is useless.
 */
import { bytesToBase64 } from '../mail/base64';

const SECRET_BYTES = 32;

export function newWebhookSecret(): string {
	const bytes = crypto.getRandomValues(new Uint8Array(SECRET_BYTES));
	return `whsec_${bytesToBase64(bytes)}`;
}
