-- SPEC §5.6: the email log. Every delivery attempt, accepted or rejected, with its intact
-- header block and the evidence behind the verdict; accepted mail keeps text, sanitised HTML
-- and attachment metadata. Purged after 30 days (SPEC §5.7).
CREATE TABLE messages (
  id                  TEXT PRIMARY KEY,
  -- NULL when the recipient is not a service address (the delivery was refused).
  mailbox_id          TEXT REFERENCES mailboxes (id) ON DELETE SET NULL,
  message_id          TEXT,
  envelope_from       TEXT NOT NULL,
  envelope_to         TEXT NOT NULL,
  from_address        TEXT,
  from_name           TEXT,
  subject             TEXT,
  received_at         TEXT NOT NULL,
  size                INTEGER NOT NULL,
  verdict             TEXT NOT NULL CHECK (verdict IN ('accepted', 'quarantined', 'rejected')),
  reason              TEXT,
  spf                 TEXT NOT NULL,
  dkim                TEXT NOT NULL,
  dmarc               TEXT NOT NULL,
  arc                 TEXT NOT NULL,
  -- JSON: the authentication evidence (client IP, signatures, policy, sealer).
  auth_details        TEXT NOT NULL,
  forwarding          TEXT NOT NULL CHECK (forwarding IN ('none', 'native', 'manual')),
  forwarding_evidence TEXT NOT NULL,
  charsets            TEXT NOT NULL,
  garbled             INTEGER NOT NULL,
  blank               INTEGER NOT NULL,
  encoding_findings   TEXT NOT NULL,
  headers             TEXT NOT NULL,
  text                TEXT,
  html                TEXT,
  attachments         TEXT NOT NULL
);
-- SPEC §5.6: a redelivery of the same Message-ID to the same mailbox is stored once.
CREATE UNIQUE INDEX messages_once_per_mailbox ON messages (mailbox_id, message_id)
  WHERE mailbox_id IS NOT NULL AND message_id IS NOT NULL;
CREATE INDEX messages_received ON messages (received_at DESC, id DESC);
CREATE INDEX messages_mailbox_received ON messages (mailbox_id, received_at DESC, id DESC);
CREATE INDEX messages_message_id ON messages (message_id);
