/** SQLite constraint failures as D1 reports them, for races the API's pre-checks cannot close. */
export const isUniqueViolation = (error: unknown) =>
	error instanceof Error && error.message.includes('UNIQUE constraint failed');

export const isForeignKeyViolation = (error: unknown) =>
	error instanceof Error && error.message.includes('FOREIGN KEY constraint failed');
