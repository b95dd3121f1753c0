/** Display helpers of the message page. */

/** "912 bytes", "4.2 KB", "3.1 MB" (1 KB = 1024 bytes, as mail clients count). */
export function formatSize(bytes: number): string {
	if (bytes < 1024) return `${bytes} byte${bytes === 1 ? '' : 's'}`;
	const units = ['KB', 'MB', 'GB'];
	let value = bytes / 1024;
	let unit = 0;
	while (value >= 1024 && unit < units.length - 1) {
		value /= 1024;
		unit++;
	}
	return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/** The first `Date:` field of a header block (RFC 5322 §3.6.1), unfolded; null when absent. */
export function dateHeader(headers: string): string | null {
	const match = /^Date:[ \t]*((?:.*)(?:\r?\n[ \t].*)*)/im.exec(headers);
	return match ? match[1]!.replace(/\r?\n[ \t]+/g, ' ').trim() || null : null;
}
