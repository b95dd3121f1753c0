/** SQLite constraint failures as D1 reports them, for races the API's pre-checks cannot close. */
export const isUniqueViolation = (error: unknown) =>
	error instanceof Error && error.message.includes('UNIQUE constraint failed');

export const isForeignKeyViolation = (error: unknown) =>
	error instanceof Error && error.message.includes('FOREIGN KEY constraint failed');

/**
 * A write whose unique constraint may still fail after the API's pre-check (another request got
 * there in between): that failure becomes `taken()`, anything else is rethrown.
 */
export async function unlessTaken<T>(write: Promise<T>, taken: () => Error): Promise<T> {
	try {
		return await write;
	} catch (error) {
		if (isUniqueViolation(error)) throw taken();
		throw error;
	}
}
