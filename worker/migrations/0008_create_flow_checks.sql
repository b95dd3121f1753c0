-- SPEC §13: mail flow checks. A check runs its DNS lookups and sends a probe through the
-- mailbox's SMTP server to its own service address; email() recognises the probe by its token
-- and records its arrival. The latest check is shown with the mailbox.
CREATE TABLE flow_checks (
  id               TEXT PRIMARY KEY,
  mailbox_id       TEXT NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,
  started_at       TEXT NOT NULL,
  finished_at      TEXT,
  -- 'done' once the DNS findings are in and the round trip has an outcome.
  status           TEXT NOT NULL CHECK (status IN ('running', 'done')),
  -- JSON: { mx, spf, dmarc, dkim } (each { result, found, says }); NULL until the lookups answer.
  dns              TEXT,
  -- JSON: the round trip's step, outcome, timings and the probe's verdict (src/lib/schema/flow-check.ts).
  round_trip       TEXT NOT NULL,
  -- SHA-256 (hex) of the X-Mailgate-Probe token: the token itself travels only in the probe.
  probe_token_hash TEXT NOT NULL,
  -- The probe counts only if it arrives before this (started_at + 120 s); after it the check fails.
  expires_at       TEXT NOT NULL
);
-- email() finds a probe's check by its token.
CREATE UNIQUE INDEX flow_checks_token ON flow_checks (probe_token_hash);
-- The latest check per mailbox, and the rate limit's count.
CREATE INDEX flow_checks_mailbox_started ON flow_checks (mailbox_id, started_at DESC);
CREATE INDEX flow_checks_started ON flow_checks (started_at);
-- Checks past their time that nobody closed yet (read paths and the 5-minute sweep close them).
CREATE INDEX flow_checks_running ON flow_checks (status, expires_at);
