-- SPEC §15: a provider's limit answer pauses the mailbox until the provider's time. Not a
-- setting: pausing never moves the version. smtp_paused_until is milliseconds since the epoch
-- (NULL: never paused); it only moves later, and simply passes when the time comes.
ALTER TABLE mailboxes ADD COLUMN smtp_paused_until INTEGER;
-- The provider's words (its reply, verbatim) that paused the mailbox.
ALTER TABLE mailboxes ADD COLUMN smtp_pause_reason TEXT;

-- SPEC §15: the admin's overrides of the provider's limits, a JSON object
-- {"concurrent": 1-10, "perMinute": 1-600}; NULL: the provider's defaults. A setting (it moves
-- the version).
ALTER TABLE mailboxes ADD COLUMN smtp_limits TEXT;
