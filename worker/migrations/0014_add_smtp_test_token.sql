-- SPEC §16 (issue 19): internal mail is set apart. The SMTP sending test's message carries
-- `X-Mailgate-Test: TOKEN`; only the token's SHA-256 is kept, with the test's recipient and the
-- time after which the token means nothing (a header read later from a Sent folder or a log must
-- not make mail "internal", which is never refused and never handed to the help desk). The row
-- is written before the message is sent, so a message that comes back before the test's result
-- is stored is still known.
CREATE TABLE smtp_test_tokens (
  token_hash   TEXT PRIMARY KEY,
  mailbox_id   TEXT REFERENCES mailboxes (id) ON DELETE CASCADE,
  -- Lower-case: the message is the test's only when delivered to this address.
  to_address   TEXT NOT NULL,
  sent_at      TEXT NOT NULL,
  expires_at   TEXT NOT NULL
);
CREATE INDEX smtp_test_tokens_expires ON smtp_test_tokens (expires_at);

-- `kind` gains 'test'. SQLite cannot change a CHECK constraint in place, so the log table is
-- rebuilt (https://www.sqlite.org/lang_altertable.html#otheralter): same columns in the same
-- order, same indexes; no table references messages, so nothing else changes.
CREATE TABLE messages_new (
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
  attachments         TEXT NOT NULL,
  truncated           INTEGER NOT NULL DEFAULT 0,
  -- The sender's domain, for "everything from example.com": the header From, else the envelope sender.
  sender_domain       TEXT GENERATED ALWAYS AS (
    lower(substr(coalesce(from_address, envelope_from), instr(coalesce(from_address, envelope_from), '@') + 1))
  ) VIRTUAL,
  -- SPEC §16: customer mail, or internal mail: an SMTP sending test, a mail flow probe, a bounce.
  kind                TEXT NOT NULL DEFAULT 'message' CHECK (kind IN ('message', 'test', 'probe', 'bounce')),
  text_from_html      INTEGER NOT NULL DEFAULT 0
);
INSERT INTO messages_new (
  id, mailbox_id, message_id, envelope_from, envelope_to, from_address, from_name, subject, received_at, size, verdict,
  reason, spf, dkim, dmarc, arc, auth_details, forwarding, forwarding_evidence, charsets, garbled, blank, encoding_findings,
  headers, text, html, attachments, truncated, kind, text_from_html
)
SELECT
  id, mailbox_id, message_id, envelope_from, envelope_to, from_address, from_name, subject, received_at, size, verdict,
  reason, spf, dkim, dmarc, arc, auth_details, forwarding, forwarding_evidence, charsets, garbled, blank, encoding_findings,
  headers, text, html, attachments, truncated, kind, text_from_html
FROM messages;
DROP TABLE messages;
ALTER TABLE messages_new RENAME TO messages;

CREATE UNIQUE INDEX messages_once_per_mailbox ON messages (mailbox_id, message_id)
  WHERE mailbox_id IS NOT NULL AND message_id IS NOT NULL;
CREATE INDEX messages_received ON messages (received_at DESC, id DESC);
CREATE INDEX messages_mailbox_received ON messages (mailbox_id, received_at DESC, id DESC);
CREATE INDEX messages_message_id ON messages (message_id);
CREATE INDEX messages_verdict_received ON messages (verdict, received_at DESC, id DESC);
CREATE INDEX messages_mailbox_verdict_received ON messages (mailbox_id, verdict, received_at DESC, id DESC);
CREATE INDEX messages_from_received ON messages (from_address COLLATE NOCASE, received_at DESC, id DESC);
CREATE INDEX messages_envelope_from_received ON messages (envelope_from COLLATE NOCASE, received_at DESC, id DESC);
CREATE INDEX messages_sender_domain_received ON messages (sender_domain, received_at DESC, id DESC);
CREATE INDEX messages_rejections ON messages (verdict, mailbox_id, reason, received_at);
CREATE INDEX messages_garbled ON messages (received_at) WHERE garbled = 1;
CREATE INDEX messages_kind_received ON messages (kind, received_at DESC, id DESC);
-- The log's kind filter within one mailbox ("this mailbox's bounces").
CREATE INDEX messages_mailbox_kind_received ON messages (mailbox_id, kind, received_at DESC, id DESC);
