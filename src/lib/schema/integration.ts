import { z } from 'zod';
import { idSchema, requiredText, timestampSchema, versionSchema } from './fields';
import { webhookSchema, webhookSettingsSchema } from './webhook';

/** Limit on an integration's name: it labels a select option and a list column. */
export const MAX_INTEGRATION_NAME_LENGTH = 100;

const nameSchema = requiredText({ what: 'integration name', label: 'The name', max: MAX_INTEGRATION_NAME_LENGTH });

/** `POST /api/integrations`; `id` is optional and makes a retried create idempotent. */
export const integrationCreateSchema = z.object({ id: idSchema.optional(), name: nameSchema });

/**
 * `PATCH /api/integrations/:id`: a new name, the webhook (SPEC §11; `null` removes it), or
 * both; `version`, when sent, makes a stale edit a 409.
 */
export const integrationUpdateSchema = z
	.object({ name: nameSchema.optional(), webhook: webhookSettingsSchema.nullable().optional(), version: versionSchema.optional() })
	.refine((value) => value.name !== undefined || value.webhook !== undefined, { error: 'Send a name or a webhook', path: ['name'] });

/** An integration as the API returns it. */
export const integrationSchema = z.object({
	id: z.string(),
	name: z.string(),
	version: z.number().int(),
	createdAt: timestampSchema,
	updatedAt: timestampSchema,
	/** SPEC §11: where the integration's mail goes; absent in answers of an older Worker. */
	webhook: webhookSchema.nullable().optional()
});

export type IntegrationCreate = z.infer<typeof integrationCreateSchema>;
export type IntegrationUpdate = z.infer<typeof integrationUpdateSchema>;
export type Integration = z.infer<typeof integrationSchema>;
