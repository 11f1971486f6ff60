-- Bounces and complaints received later (DSN, ARF, providers' webhooks).
-- One row per recorded report: the same report received twice (an SMTP
-- sender's retry, a provider's redelivery) is recorded once.
CREATE TABLE inbound_feedback (
    sandbox     TEXT NOT NULL,
    dedupe_key  TEXT NOT NULL,   -- sha256 of message id, kind, status and the report's fields
    message_id  TEXT NOT NULL,
    event_seq   INTEGER NOT NULL, -- the message_events row it wrote
    at          INTEGER NOT NULL,
    PRIMARY KEY (sandbox, dedupe_key)
);
