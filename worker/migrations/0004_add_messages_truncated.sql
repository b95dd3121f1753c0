-- SPEC §5.6: text, HTML and the header block are kept in D1 up to named limits (D1 rows are
-- limited to 1,000,000 bytes in production); a row marked truncated has its full content in
-- the MAIL_ARCHIVE original.
ALTER TABLE messages ADD COLUMN truncated INTEGER NOT NULL DEFAULT 0;
