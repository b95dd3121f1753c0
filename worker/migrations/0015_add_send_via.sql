-- SPEC §14: an OAuth mailbox sends through its provider's SMTP server or its HTTPS API
-- (Microsoft Graph, the Gmail API). A setting the admin edits, like smtp_auth; rows made before
-- send by SMTP, as they did.
ALTER TABLE mailboxes ADD COLUMN smtp_send_via TEXT NOT NULL DEFAULT 'smtp' CHECK (smtp_send_via IN ('smtp', 'api'));

-- The scope the provider granted at sign-in (space-separated, as its token response said, or as
-- asked when it said nothing: RFC 6749 §5.1). Each method needs its own scope, so a switch of
-- smtp_send_via reads as "reconnect" while the grant lacks it (worker/oauth/providers.ts
-- grantCovers). NULL for grants made before: they were asked for the provider's SMTP scope.
ALTER TABLE mailbox_oauth ADD COLUMN scope TEXT;

-- The scope a sign-in under way asked for, so the callback knows what an answer without `scope`
-- granted. NULL for sign-ins started before: the mailbox's method decides.
ALTER TABLE oauth_states ADD COLUMN scope TEXT;
