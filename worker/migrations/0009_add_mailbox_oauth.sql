-- SPEC §12: a mailbox signs in to its SMTP server with a password or with OAuth 2.0
-- (Microsoft 365 or Google, SMTP AUTH XOAUTH2). The sign-in method is a setting the admin edits
-- (it moves the mailbox's version); the connection made by signing in is not, so it lives in a
-- table of its own and connecting, refreshing or losing it never conflicts with an open form.
ALTER TABLE mailboxes ADD COLUMN smtp_auth TEXT NOT NULL DEFAULT 'password' CHECK (smtp_auth IN ('password', 'oauth2'));
ALTER TABLE mailboxes ADD COLUMN smtp_oauth_provider TEXT CHECK (smtp_oauth_provider IN ('microsoft', 'google'));

-- One connection per mailbox: the account that signed in and its tokens, sealed like SMTP
-- passwords (AES-256-GCM under SMTP_ENCRYPTION_KEY, bound to the mailbox id); never in clear.
CREATE TABLE mailbox_oauth (
  mailbox_id        TEXT PRIMARY KEY REFERENCES mailboxes (id) ON DELETE CASCADE,
  provider          TEXT NOT NULL CHECK (provider IN ('microsoft', 'google')),
  -- The signed-in account as the ID token named it (email, or preferred_username).
  account           TEXT NOT NULL,
  refresh_token     TEXT NOT NULL,
  connected_at      TEXT NOT NULL,
  -- 'reconnect' once the provider refused the refresh token (invalid_grant): sign in again.
  status            TEXT NOT NULL DEFAULT 'connected' CHECK (status IN ('connected', 'reconnect')),
  -- The latest access token (sealed) and when it expires (ms since the epoch), reused until a
  -- minute before then by the SMTP test, replies and the mail flow check alike.
  access_token      TEXT,
  access_expires_at INTEGER,
  updated_at        TEXT NOT NULL
);

-- Sign-ins under way (authorization code flow with PKCE): single-use, 10 minutes, bound to a
-- mailbox. Only the SHA-256 of `state` is kept, so reading this table cannot finish a sign-in.
CREATE TABLE oauth_states (
  state_hash    TEXT PRIMARY KEY,
  mailbox_id    TEXT NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,
  provider      TEXT NOT NULL CHECK (provider IN ('microsoft', 'google')),
  -- The PKCE code_verifier (RFC 7636), sealed.
  code_verifier TEXT NOT NULL,
  redirect_uri  TEXT NOT NULL,
  created_at    TEXT NOT NULL,
  -- ms since the epoch.
  expires_at    INTEGER NOT NULL
);
CREATE INDEX oauth_states_expires ON oauth_states (expires_at);
