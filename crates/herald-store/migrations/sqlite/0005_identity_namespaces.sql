-- Custom identity namespaces (the standard ones, email, phone, ecid and
-- crmId, exist in every sandbox without a row).
CREATE TABLE identity_namespaces (
    sandbox     TEXT NOT NULL,
    code        TEXT NOT NULL,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,  -- string, email or phone
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (sandbox, code)
);

-- Profile search by identity value prefix across namespaces.
CREATE INDEX identities_by_value ON identities (sandbox, value);

-- Deleting a profile scrubs its messages: find them without a scan.
CREATE INDEX messages_by_profile ON messages (sandbox, profile_id) WHERE profile_id IS NOT NULL;
