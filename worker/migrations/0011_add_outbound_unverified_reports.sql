-- SPEC §10 "Bounces" (issue 18): a bounce report that names a reply but cannot be verified
-- (named only in the report's own In-Reply-To/References, or naming recipients the reply never
-- had) changes no status; it is kept here, a JSON list like `warnings`, for the admin to see.
ALTER TABLE outbound ADD COLUMN unverified_reports TEXT NOT NULL DEFAULT '[]';
