import { z } from 'zod';

/** SPEC §7 error shape: `{ error: { code, message, fields? } }`, fields keyed by dotted path. */
export const apiErrorSchema = z.object({
	error: z.object({
		code: z.string(),
		message: z.string(),
		fields: z.record(z.string(), z.string()).optional(),
		/** On a version conflict: the server's current copy of the record. */
		current: z.unknown().optional()
	})
});

export type ApiError = z.infer<typeof apiErrorSchema>['error'];
export type FieldErrors = Record<string, string>;

/** Turns zod issues into `{ "smtp.port": "message" }`, keeping the first message per field. */
export function fieldErrors(issues: readonly z.core.$ZodIssue[]): FieldErrors {
	const fields: FieldErrors = {};
	for (const issue of issues) {
		const path = issue.path.map(String).join('.') || '_';
		fields[path] ??= issue.message;
	}
	return fields;
}
