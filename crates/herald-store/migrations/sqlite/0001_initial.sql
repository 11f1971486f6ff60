-- Herald's initial schema. Every tenant-owned table carries `sandbox`.
-- Times are Unix milliseconds (UTC) so that they sort and compare as integers.

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    key_hash    TEXT NOT NULL UNIQUE,
    sandboxes   TEXT NOT NULL,  -- JSON array; ["*"] means every sandbox
    scopes      TEXT NOT NULL,  -- JSON array
    created_at  INTEGER NOT NULL
);

CREATE TABLE channel_configurations (
    sandbox     TEXT NOT NULL,
    id          TEXT NOT NULL,
    name        TEXT NOT NULL,
    channel     TEXT NOT NULL,
    doc         TEXT NOT NULL,  -- the configuration as JSON
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (sandbox, id)
);

CREATE TABLE campaigns (
    sandbox       TEXT NOT NULL,
    id            TEXT NOT NULL,
    status        TEXT NOT NULL,
    definition    TEXT NOT NULL, -- JSON: the definition being edited
    live_version  INTEGER,
    draft_version INTEGER,
    revision      INTEGER NOT NULL,
    created_by    TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (sandbox, id)
);

CREATE TABLE campaign_versions (
    sandbox      TEXT NOT NULL,
    campaign_id  TEXT NOT NULL,
    version      INTEGER NOT NULL,
    definition   TEXT NOT NULL,
    activated_at INTEGER NOT NULL,
    PRIMARY KEY (sandbox, campaign_id, version)
);

CREATE TABLE profiles (
    sandbox     TEXT NOT NULL,
    id          TEXT NOT NULL,
    attributes  TEXT NOT NULL,
    created_by  TEXT,           -- JSON {campaignId, requestId} when an execution created it
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (sandbox, id)
);

CREATE TABLE identities (
    sandbox     TEXT NOT NULL,
    namespace   TEXT NOT NULL,
    value       TEXT NOT NULL,
    profile_id  TEXT NOT NULL,
    PRIMARY KEY (sandbox, namespace, value)
);
CREATE INDEX identities_by_profile ON identities (sandbox, profile_id);

CREATE TABLE executions (
    sandbox          TEXT NOT NULL,
    id               TEXT NOT NULL,
    campaign_id      TEXT NOT NULL,
    campaign_version INTEGER NOT NULL,
    request_id       TEXT NOT NULL,
    request_hash     TEXT NOT NULL,
    kind             TEXT NOT NULL,
    context          TEXT NOT NULL,
    response         TEXT NOT NULL,
    created_by       TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    PRIMARY KEY (sandbox, id),
    UNIQUE (sandbox, campaign_id, request_id)
);

CREATE TABLE messages (
    id                TEXT PRIMARY KEY,
    sandbox           TEXT NOT NULL,
    execution_id      TEXT NOT NULL,
    campaign_id       TEXT NOT NULL,
    campaign_version  INTEGER NOT NULL,
    channel           TEXT NOT NULL,
    user_id           TEXT NOT NULL,
    namespace         TEXT NOT NULL,
    profile_id        TEXT,
    address           TEXT,
    status            TEXT NOT NULL,
    exclusion_reason  TEXT,
    priority          INTEGER NOT NULL,  -- lower goes first: 0 transactional, 1 marketing
    attempts          INTEGER NOT NULL DEFAULT 0,
    next_attempt_at   INTEGER NOT NULL,
    lease_owner       TEXT,
    lease_until       INTEGER,
    last_error        TEXT,
    header_message_id TEXT,
    profile           TEXT NOT NULL,     -- render data snapshot (JSON)
    context           TEXT NOT NULL,     -- this recipient's context (JSON)
    rendered          TEXT,              -- JSON of what was sent
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    sent_at           INTEGER
);
CREATE INDEX messages_due ON messages (priority, next_attempt_at) WHERE status = 'queued';
CREATE INDEX messages_leased ON messages (lease_until) WHERE status = 'sending';
CREATE INDEX messages_by_execution ON messages (execution_id);
CREATE INDEX messages_by_campaign ON messages (sandbox, campaign_id, status);

CREATE TABLE message_events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id  TEXT NOT NULL,
    at          INTEGER NOT NULL,
    status      TEXT NOT NULL,
    detail      TEXT
);
CREATE INDEX message_events_by_message ON message_events (message_id, seq);
