-- Suppressions: addresses (or, for email, domains) a sandbox never sends to.
-- Exactly one of address / domain is set. address_key is the comparison key
-- (email lower-cased, phone as + and digits, push token as given).

CREATE TABLE suppressions (
    sandbox     TEXT NOT NULL,
    id          TEXT NOT NULL,
    channel     TEXT NOT NULL,
    address     TEXT,
    address_key TEXT,
    domain      TEXT,
    reason      TEXT NOT NULL,
    source      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (sandbox, id),
    UNIQUE (sandbox, channel, address_key),
    UNIQUE (sandbox, channel, domain),
    CHECK ((address IS NULL) <> (domain IS NULL)),
    CHECK ((address IS NULL) = (address_key IS NULL))
);
