-- SPEC §4: every SMTP sending test result is kept with its mailbox (latest on the list,
-- history on the mailbox page). Tests of unsaved settings for a new mailbox have no mailbox.
CREATE TABLE smtp_tests (
  id             TEXT PRIMARY KEY,
  mailbox_id     TEXT REFERENCES mailboxes (id) ON DELETE CASCADE,
  settings       TEXT NOT NULL CHECK (settings IN ('saved', 'form')),
  ok             INTEGER NOT NULL,
  stage          TEXT NOT NULL,
  category       TEXT,
  code           INTEGER,
  enhanced_code  TEXT,
  server_message TEXT,
  hint           TEXT NOT NULL,
  -- JSON arrays; the transcript is already redacted (no password, no AUTH payloads).
  transcript     TEXT NOT NULL,
  steps          TEXT NOT NULL,
  to_address     TEXT NOT NULL,
  duration_ms    INTEGER NOT NULL,
  at             TEXT NOT NULL
);
CREATE INDEX smtp_tests_mailbox_at ON smtp_tests (mailbox_id, at DESC);
CREATE INDEX smtp_tests_at ON smtp_tests (at);

-- At most one test per mailbox at a time: a row is a lease until expires_at (epoch ms).
CREATE TABLE smtp_test_locks (
  key        TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
);
