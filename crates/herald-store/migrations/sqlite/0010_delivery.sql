-- Delivery engine: throttled audience sends, resends, and the lanes.

-- A throttled audience send's messages expire 12 h after it started
-- (excluded `throttleWindowExpired` when still unsent).
ALTER TABLE messages ADD COLUMN expires_at INTEGER;
-- A message resent by hand names the message of its first attempt.
ALTER TABLE messages ADD COLUMN resend_of TEXT;
CREATE INDEX messages_resends ON messages (resend_of) WHERE resend_of IS NOT NULL;
-- Queued messages of an audience execution so far: the throttle's slot count.
ALTER TABLE fanouts ADD COLUMN queued INTEGER NOT NULL DEFAULT 0;
-- A resend by hand is a second message to the same profile on purpose.
DROP INDEX messages_one_per_profile;
CREATE UNIQUE INDEX messages_one_per_profile ON messages (execution_id, profile_id)
    WHERE priority = 1 AND profile_id IS NOT NULL AND proof = 0 AND resend_of IS NULL;
