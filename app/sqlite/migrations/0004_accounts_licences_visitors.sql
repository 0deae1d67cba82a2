-- A licence key unlocks one account: a second user entering a key that is
-- already granted is refused (the unique index makes that race-free).
DROP INDEX grants_license_key;
CREATE UNIQUE INDEX grants_license_once ON grants (source, license_key) WHERE license_key <> '';

-- The licence key itself, sealed with AES-256-GCM under
-- FLAVORMONK_LICENSE_SECRET, so that it can be verified again later (the
-- SHA-256 in license_key cannot be). NULL when no secret was configured.
ALTER TABLE grants ADD COLUMN license_sealed BLOB;
CREATE INDEX grants_recheck ON grants (checked_at) WHERE license_sealed IS NOT NULL;

-- The anonymous visitor session a user signed up or logged in from: what
-- is keyed to the visitor id (assistant conversations, usage) is theirs.
-- Deleting the user deletes these sessions with everything else of theirs.
ALTER TABLE visitors ADD COLUMN user_id INTEGER REFERENCES users (id) ON DELETE CASCADE;
CREATE INDEX visitors_user_id ON visitors (user_id) WHERE user_id IS NOT NULL;
