-- Issue 18: request counters for the API's rate limits (worker/api/rate-limit.ts): replies
-- (POST /api/mailboxes/:id/outbound) and downloads, per API key and per mailbox. A fixed window
-- per row: one row per limit and subject, reused window after window (the upsert starts the
-- new window), so the table holds one row per key or mailbox that was counted; the daily
-- retention deletes rows idle for a day (deleted keys and mailboxes).
CREATE TABLE rate_limits (
  -- The limit's name and whom it counts: 'outbound-key:<key id>', 'download-mailbox:<mailbox id>'.
  bucket       TEXT PRIMARY KEY,
  -- The window this count belongs to: its start, in milliseconds since the epoch.
  window_start INTEGER NOT NULL,
  -- Requests let through in that window (a refused request is not counted).
  count        INTEGER NOT NULL
);
-- The retention's sweep of idle rows.
CREATE INDEX rate_limits_window ON rate_limits (window_start);
