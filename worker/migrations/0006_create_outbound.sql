-- SPEC §7: what a log row is: a customer's message, a delivery status notification (SPEC §10)
-- or a mail flow probe (SPEC §13). Rows logged before this migration are messages.
ALTER TABLE messages ADD COLUMN kind TEXT NOT NULL DEFAULT 'message' CHECK (kind IN ('message', 'bounce', 'probe'));

-- SPEC §10: replies the help desk asks Mailgate to send. The message is composed once and kept
-- byte for byte in MAIL_ARCHIVE under outbound/<id>; this row keeps what the API and the Sent
-- mail page show, and the delivery state the queue consumer moves along.
CREATE TABLE outbound (
  id              TEXT PRIMARY KEY,
  -- NULL once the mailbox is deleted: the record stays readable, and a retry says why it cannot leave.
  mailbox_id      TEXT REFERENCES mailboxes (id) ON DELETE SET NULL,
  message_id      TEXT NOT NULL,
  status          TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'deferred', 'failed', 'bounced')),
  from_name       TEXT NOT NULL,
  from_address    TEXT NOT NULL,
  -- JSON arrays of addresses; Bcc is kept for the envelope and never written into the message.
  to_addresses    TEXT NOT NULL,
  cc_addresses    TEXT NOT NULL,
  bcc_addresses   TEXT NOT NULL,
  subject         TEXT NOT NULL,
  in_reply_to     TEXT,
  -- The email log row this answers, when inReplyTo named a logged message.
  reply_to_log_id TEXT,
  text            TEXT NOT NULL,
  html            TEXT,
  headers         TEXT NOT NULL,
  attachments     TEXT NOT NULL,
  truncated       INTEGER NOT NULL DEFAULT 0,
  size            INTEGER NOT NULL,
  metadata        TEXT NOT NULL,
  created_at      TEXT NOT NULL,
  sent_at         TEXT,
  next_attempt_at TEXT,
  -- JSON: every attempt, the recipients refused among several, the bounce, delay notices.
  attempts        TEXT NOT NULL DEFAULT '[]',
  refused         TEXT NOT NULL DEFAULT '[]',
  bounce          TEXT,
  warnings        TEXT NOT NULL DEFAULT '[]',
  -- While status is 'sending': when the consumer took it, and when the message data started
  -- to go out. A 'sending' row found later with data_started_at set may have been delivered
  -- (SPEC §10); without it, nothing left and it may be sent again.
  claimed_at      TEXT,
  data_started_at TEXT
);
-- A bounce names the returned message by its Message-ID (SPEC §10 "Bounces").
CREATE UNIQUE INDEX outbound_message_id ON outbound (message_id);
-- The Sent mail page's order and filters, each served with the page order (as 0005 does for the log).
CREATE INDEX outbound_created ON outbound (created_at DESC, id DESC);
CREATE INDEX outbound_mailbox_created ON outbound (mailbox_id, created_at DESC, id DESC);
CREATE INDEX outbound_status_created ON outbound (status, created_at DESC, id DESC);
CREATE INDEX outbound_mailbox_status_created ON outbound (mailbox_id, status, created_at DESC, id DESC);
-- The scheduled sweep re-enqueues what is due (a lost queue message never strands a reply).
CREATE INDEX outbound_due ON outbound (status, next_attempt_at);
-- Bounces and probes are found by kind.
CREATE INDEX messages_kind_received ON messages (kind, received_at DESC, id DESC);
