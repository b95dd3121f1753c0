-- Mailbox health (GET /api/mailbox-health, db/messages.ts mailboxHealth) counts customer mail
-- only (kind = 'message') since replies, bounces, tests and probes joined the log, and no index
-- covered kind with mailbox_id, verdict and reason: SQLite read every 30-day row of the table
-- (p50 1.4 s at 100,000 rows, bench/log-query.mjs). These two cover both of its queries.
-- Both read the rows in the order they group them (no sort of every 30-day row; the log keeps
-- 30 days, so the range test on each entry skips little).
-- The counts: customer mail by mailbox and verdict, with the time counted.
CREATE INDEX messages_health ON messages (kind, mailbox_id, verdict, received_at);
-- The top rejection: rejected customer mail by mailbox and reason.
CREATE INDEX messages_health_rejections ON messages (verdict, kind, mailbox_id, reason, received_at);
