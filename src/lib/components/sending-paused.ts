/**
 * SPEC §15: a mailbox its provider paused, as the app says it: "Sending paused until TIME: the
 * provider's limit", with the provider's words, while the time is still to come. Pure.
 */

/** The pause to show, or null when there is none or its time has passed (it simply passes). */
export function pauseOf(
	smtp: { pausedUntil?: string | null; pauseReason?: string | null } | null | undefined,
	now: number
): { until: string; reason: string | null } | null {
	const until = smtp?.pausedUntil;
	if (!until || !(Date.parse(until) > now)) return null;
	return { until, reason: smtp?.pauseReason || null };
}

/** When the next look is due: the end of the pause (so the notice goes by itself), or null. */
export function pauseEndsIn(pause: { until: string } | null, now: number): number | null {
	return pause ? Math.max(0, Date.parse(pause.until) - now) : null;
}
