-- Business rules: frequency caps on marketing messages per recipient.

CREATE TABLE business_rules (
    sandbox      TEXT NOT NULL,
    id           TEXT NOT NULL,
    name         TEXT NOT NULL,
    channel      TEXT NOT NULL,
    category     TEXT NOT NULL,
    max_messages INTEGER NOT NULL,
    period_count INTEGER NOT NULL,
    period_unit  TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (sandbox, id)
);
