-- A reply's composed message kept in its row (0018) no longer holds its text part's body a second
-- time (issue 22): the row's `text` column has it already, and the request's one D1 batch wrote
-- both (a 50 KB reply wrote 100 KB). When set, the row's copy leaves out the text part's body,
-- which goes back at this character offset, encoded from `text` exactly as it was composed
-- (outbound/composed.ts). NULL: the copy is whole (rows written before this, or a cut text).
ALTER TABLE outbound ADD COLUMN composed_text_at INTEGER;
