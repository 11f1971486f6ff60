-- Audiences, audience executions (fan-out progress), schedules, frequency caps.

CREATE TABLE audiences (
    sandbox     TEXT NOT NULL,
    id          TEXT NOT NULL,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    kind        TEXT NOT NULL,      -- 'rule' | 'static'
    rule        TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (sandbox, id)
);

-- Members of static audiences; the rowid orders the fan-out scan.
CREATE TABLE audience_members (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    sandbox     TEXT NOT NULL,
    audience_id TEXT NOT NULL,
    namespace   TEXT NOT NULL,
    value       TEXT NOT NULL,
    UNIQUE (sandbox, audience_id, namespace, value)
);

-- Audience scans walk a sandbox's profiles (and an audience's members) in
-- rowid order from a checkpoint: these seek straight to it (every SQLite
-- index ends with the rowid), so a page costs the same at any depth.
CREATE INDEX profiles_by_sandbox ON profiles (sandbox);
CREATE INDEX audience_members_scan ON audience_members (sandbox, audience_id, seq);

-- Fan-out state of audience executions. `cursor` is the last scan position
-- whose messages are committed: a restart resumes after it.
CREATE TABLE fanouts (
    sandbox          TEXT NOT NULL,
    execution_id     TEXT NOT NULL,
    campaign_id      TEXT NOT NULL,
    campaign_version INTEGER NOT NULL,
    audience_id      TEXT NOT NULL,
    status           TEXT NOT NULL,  -- InProgress | Succeeded | Failed
    targeted         INTEGER NOT NULL DEFAULT 0,
    cursor           INTEGER NOT NULL DEFAULT 0,
    error            TEXT,
    created_at       INTEGER NOT NULL,
    finished_at      INTEGER,
    PRIMARY KEY (sandbox, execution_id)
);
CREATE INDEX fanouts_running ON fanouts (status) WHERE status = 'InProgress';

-- No profile gets two messages from one audience execution, whatever
-- happens to the process (audience messages are the marketing priority).
CREATE UNIQUE INDEX messages_one_per_profile ON messages (execution_id, profile_id)
    WHERE priority = 1 AND profile_id IS NOT NULL AND proof = 0;

CREATE TABLE execution_schedules (
    sandbox      TEXT NOT NULL,
    id           TEXT NOT NULL,
    campaign_id  TEXT NOT NULL,
    request_id   TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    audience_id  TEXT NOT NULL,
    execute_at   INTEGER NOT NULL,
    context      TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    execution_id TEXT,             -- set when it fired
    PRIMARY KEY (sandbox, id),
    UNIQUE (sandbox, campaign_id, request_id)
);
CREATE INDEX execution_schedules_due ON execution_schedules (execute_at) WHERE execution_id IS NULL;

-- One row per message counted against a frequency-cap rule; checked and
-- written in the fan-out's transaction on the single writer, so exact.
CREATE TABLE frequency_ledger (
    sandbox    TEXT NOT NULL,
    rule_id    TEXT NOT NULL,
    profile_id TEXT NOT NULL,
    at         INTEGER NOT NULL,
    message_id TEXT NOT NULL
);
CREATE INDEX frequency_ledger_by_profile ON frequency_ledger (sandbox, rule_id, profile_id, at);
