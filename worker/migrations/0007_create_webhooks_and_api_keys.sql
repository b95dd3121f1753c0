-- SPEC §11: a channel integration is where its mailboxes' mail goes: an optional webhook (the
-- URL, the events it wants as a JSON array, the whsec_ signing secret sealed with AES-GCM
-- under SMTP_ENCRYPTION_KEY, bound to the integration).
ALTER TABLE integrations ADD COLUMN webhook_url TEXT;
ALTER TABLE integrations ADD COLUMN webhook_events TEXT;
ALTER TABLE integrations ADD COLUMN webhook_secret TEXT;
ALTER TABLE integrations ADD COLUMN webhook_updated_at TEXT;

-- SPEC §11: every event for an integration's webhook, recorded in the same D1 batch as the row
-- it announces (so a crash between the two never loses it), delivered at least once from
-- WEBHOOK_QUEUE. The id is the Standard Webhooks `webhook-id`, the same on every retry.
CREATE TABLE webhook_events (
  id              TEXT PRIMARY KEY,
  integration_id  TEXT NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
  type            TEXT NOT NULL,
  -- The email log row or outbound message it announces (for the delivery list and purges).
  subject_id      TEXT,
  -- The JSON body as it is sent, { type, timestamp, data }, under 1 MiB.
  payload         TEXT NOT NULL,
  status          TEXT NOT NULL CHECK (status IN ('pending', 'delivering', 'delivered', 'failed')),
  created_at      TEXT NOT NULL,
  next_attempt_at TEXT,
  claimed_at      TEXT,
  delivered_at    TEXT,
  -- JSON: every attempt { at, status, durationMs, error?, response }.
  attempts        TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX webhook_events_integration_created ON webhook_events (integration_id, created_at DESC, id DESC);
CREATE INDEX webhook_events_due ON webhook_events (status, next_attempt_at);
CREATE INDEX webhook_events_created ON webhook_events (created_at);

-- SPEC §11: API keys for a help desk, scoped to one integration. Only the SHA-256 of the key is
-- kept (nobody needs it back); revoking deletes the row.
CREATE TABLE api_keys (
  id             TEXT PRIMARY KEY,
  integration_id TEXT NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
  name           TEXT NOT NULL,
  key_hash       TEXT NOT NULL,
  created_at     TEXT NOT NULL,
  last_used_at   TEXT
);
CREATE UNIQUE INDEX api_keys_hash ON api_keys (key_hash);
CREATE INDEX api_keys_integration ON api_keys (integration_id, created_at);

-- SPEC §11: an HTML-only message's text is a rendition of its HTML, marked as such.
ALTER TABLE messages ADD COLUMN text_from_html INTEGER NOT NULL DEFAULT 0;
