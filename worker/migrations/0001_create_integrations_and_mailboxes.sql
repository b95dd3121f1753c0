-- Channel integrations group mailboxes; every mailbox belongs to exactly one.
CREATE TABLE integrations (
  id         TEXT PRIMARY KEY,
  name       TEXT NOT NULL,
  version    INTEGER NOT NULL DEFAULT 1,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
-- Two integrations with the same name would be indistinguishable in the mailbox form.
CREATE UNIQUE INDEX integrations_name_unique ON integrations (name COLLATE NOCASE);

CREATE TABLE mailboxes (
  id             TEXT PRIMARY KEY,
  integration_id TEXT NOT NULL REFERENCES integrations (id) ON DELETE RESTRICT,
  name           TEXT NOT NULL,
  description    TEXT NOT NULL DEFAULT '',
  address        TEXT NOT NULL,
  smtp_host      TEXT NOT NULL,
  smtp_port      INTEGER NOT NULL,
  smtp_username  TEXT NOT NULL,
  -- AES-GCM ciphertext under the SMTP_ENCRYPTION_KEY secret ("v1.<iv>.<ciphertext>", base64url);
  -- the plain password is never stored.
  smtp_password  TEXT NOT NULL,
  smtp_encryption TEXT NOT NULL CHECK (smtp_encryption IN ('tls', 'starttls', 'none')),
  manual_forward TEXT NOT NULL DEFAULT 'reject' CHECK (manual_forward IN ('reject', 'accept')),
  version        INTEGER NOT NULL DEFAULT 1,
  created_at     TEXT NOT NULL,
  updated_at     TEXT NOT NULL
);
-- SPEC §3: a service address is unique across mailboxes, case-insensitively.
CREATE UNIQUE INDEX mailboxes_address_unique ON mailboxes (address COLLATE NOCASE);
CREATE INDEX mailboxes_integration ON mailboxes (integration_id);
