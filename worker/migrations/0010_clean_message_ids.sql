-- Issue 18: Message-IDs were stored as postal-mime decoded them, so an RFC 2047 word could
-- put CR, LF or anything else into one. A msg-id (RFC 5322 §3.6.4) is printable ASCII
-- without space, "<" or ">" (U+0021-U+007E less U+003C and U+003E): a stored id with any other
-- character is no id and is cleared, so it can never thread a reply or match a bounce. The
-- full syntax is checked again whenever a stored id is read (worker/outbound/create.ts).
UPDATE messages SET message_id = NULL
  WHERE message_id = '' OR message_id GLOB '*[^!-;=?-~]*';
-- The same rule for the In-Reply-To recorded on replies composed before it (shown on Sent mail).
UPDATE outbound SET in_reply_to = NULL
  WHERE in_reply_to = '' OR in_reply_to GLOB '*[^!-;=?-~]*';
