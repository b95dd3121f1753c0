/**
 * When waiting work is tried again, worded as time to come (SPEC §16: "Next try at 8:30 AM"),
 * never as if it had happened; a time already past means the try is under way or about to be.
 */
import { formatDateTime } from '$lib/format';

export function describeNextTry(at: string, now = Date.now()): string {
	return Date.parse(at) > now ? `Next try at ${formatDateTime(at)}` : 'Next try due now';
}
