/**
 * The replies to one inbound message as its page lists them (SPEC §16 "Statuses follow the
 * item"): every reply the server has to it, whichever device or help desk wrote it, each with
 * its current status, and the replies still waiting on this device (saved offline, on their
 * way, refused) that the server does not have yet. Oldest first, as a conversation reads.
 */
import type { LocalReply } from '$lib/offline/replies';
import type { OutboundItem } from '$lib/schema/outbound';

export type ReplyEntry =
	/** On the server: its current status; `local` when it was written on this device (its text is here). */
	| { kind: 'server'; id: string; item: OutboundItem; local: LocalReply | null; createdAt: string }
	/** Only on this device so far. */
	| { kind: 'local'; id: string; reply: LocalReply; createdAt: string };

/**
 * `server`: the replies the server listed (null before the first answer, or offline with none
 * read yet); `local`: this device's replies to the message. A reply the server accepted that
 * its list does not show yet keeps the copy the server answered with.
 */
export function mergeReplies(server: readonly OutboundItem[] | null, local: readonly LocalReply[]): ReplyEntry[] {
	const mine = new Map(local.map((reply) => [reply.id, reply]));
	const entries: ReplyEntry[] = (server ?? []).map((item) => ({ kind: 'server', id: item.id, item, local: mine.get(item.id) ?? null, createdAt: item.createdAt }));
	const listed = new Set(entries.map((entry) => entry.id));
	for (const reply of local) {
		if (listed.has(reply.id)) continue;
		if (reply.state === 'synced' && reply.server) {
			entries.push({ kind: 'server', id: reply.id, item: reply.server, local: reply, createdAt: reply.server.createdAt });
		} else {
			entries.push({ kind: 'local', id: reply.id, reply, createdAt: reply.createdAt });
		}
	}
	return entries.sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : 1));
}

/**
 * How long after the server took a reply its page keeps reading quickly for it to be listed: a
 * list read that misses it is one that started just before; past this it was deleted with its
 * mailbox, or is older than the list's first page.
 */
export const LISTING_GRACE_MS = 60_000;

/** Whether a reply just accepted from this device is missing from the server's list: read again soon. */
export function awaitingListing(server: readonly OutboundItem[] | null, local: readonly LocalReply[], now = Date.now()): boolean {
	const listed = new Set((server ?? []).map((item) => item.id));
	return local.some(
		(reply) => (reply.state === 'syncing' || (reply.state === 'synced' && now - Date.parse(reply.touchedAt) < LISTING_GRACE_MS)) && !listed.has(reply.id)
	);
}
