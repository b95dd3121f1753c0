/**
 * Where MAIL_ARCHIVE keeps things, in one place (SPEC §5.6, §10, §11): an inbound message's
 * original under its log id, its attachments' bytes beside it (archive/parts.ts), and a reply's
 * composed message under `outbound/`. Retention deletes a row's keys with the row.
 */

/** An inbound message's original, byte for byte as delivered. */
export const originalKey = (logId: string): string => logId;

/** An inbound message's attachment bytes, one object (archive/parts.ts). */
export const partsKey = (logId: string): string => `parts/${logId}`;

/** A reply's composed message, exactly the bytes that leave. */
export const composedKey = (outboundId: string): string => `outbound/${outboundId}`;

/**
 * Every key a logged message may have. Its parts key is named whether or not parts were kept:
 * it is one key, and no row needs a lookup to know.
 */
export const messageKeys = (logId: string): string[] => [originalKey(logId), partsKey(logId)];

/** Every key a reply has. */
export const replyKeys = (outboundId: string): string[] => [composedKey(outboundId)];
