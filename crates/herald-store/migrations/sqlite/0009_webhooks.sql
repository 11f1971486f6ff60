-- Feedback webhooks: per-sandbox receivers of `message.feedback` events,
-- each with its cursor into message_events.seq and a log of every attempt.

CREATE TABLE webhooks (
    sandbox               TEXT NOT NULL,
    id                    TEXT NOT NULL,
    name                  TEXT NOT NULL,
    url                   TEXT NOT NULL,
    channels              TEXT NOT NULL,  -- JSON array of channel names
    auth                  TEXT NOT NULL,  -- JSON {type: none|hmac|bearer|jwt, ...}
    headers               TEXT NOT NULL,  -- JSON object name -> value
    allow_private_network INTEGER NOT NULL,
    enabled               INTEGER NOT NULL,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL,
    PRIMARY KEY (sandbox, id)
);

-- Every event with seq <= cursor has been delivered (or did not concern the
-- webhook). Starts at the last event when the webhook is created.
CREATE TABLE webhook_cursors (
    sandbox     TEXT NOT NULL,
    webhook_id  TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    -- The node whose dispatcher works on this webhook, and until when:
    -- one sender per webhook keeps its events in order and single.
    lease_owner TEXT,
    lease_until INTEGER,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (sandbox, webhook_id)
);

CREATE TABLE webhook_deliveries (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    sandbox      TEXT NOT NULL,
    webhook_id   TEXT NOT NULL,
    event_seq    INTEGER NOT NULL,
    message_id   TEXT NOT NULL,
    attempt      INTEGER NOT NULL,
    at           INTEGER NOT NULL,
    status_code  INTEGER,          -- the receiver's HTTP status, when it answered
    error        TEXT,             -- why the attempt failed, when it did
    duration_ms  INTEGER NOT NULL,
    delivered    INTEGER NOT NULL
);
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (sandbox, webhook_id, id);
