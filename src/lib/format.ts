/** Display formats shared by the pages. */
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

export function formatDateTime(iso: string): string {
	const date = new Date(iso);
	return Number.isNaN(date.getTime()) ? iso : dateTime.format(date);
}

/** The message to show for a failed call that is not about one field. */
export function describeFailure(error: unknown): string {
	if (error instanceof Error && error.message) return error.message;
	return 'Something went wrong; try again.';
}
