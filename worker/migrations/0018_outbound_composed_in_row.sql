-- A reply's composed message, kept in its own row from POST /outbound until the reply consumer
-- has put it in R2 (issue 22): the request then writes once, one D1 batch, where it wrote to D1
-- and R2 side by side (the R2 put was most of the POST's time). Only messages up to
-- outbound/composed.ts INLINE_COMPOSED_BYTES (128 KiB) come here; larger ones go to R2 at once.
-- NULL once in R2, so D1 does not keep 30 days of bodies twice.
ALTER TABLE outbound ADD COLUMN composed TEXT;
