-- SPEC §16: the message page lists every reply to a logged message (GET /api/outbound?replyToLogId=).
-- The app filters by mailbox too, but an API caller may name the log id alone; without this
-- index that read scans 30 days of replies.
CREATE INDEX IF NOT EXISTS outbound_reply_to_log ON outbound (reply_to_log_id, created_at DESC, id DESC) WHERE reply_to_log_id IS NOT NULL;
