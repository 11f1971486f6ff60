-- Fragments: every version kept; the latest is the one with the highest
-- number. Campaign versions record the fragment versions they used.

CREATE TABLE fragment_versions (
    sandbox     TEXT NOT NULL,
    id          TEXT NOT NULL,
    version     INTEGER NOT NULL,
    name        TEXT NOT NULL,
    description TEXT,
    content     TEXT NOT NULL,
    created_at  INTEGER NOT NULL,  -- when version 1 was created
    updated_at  INTEGER NOT NULL,  -- when this version was created
    PRIMARY KEY (sandbox, id, version)
);

-- JSON {fragmentId: {version, name, content}} of the fragments a campaign
-- version was activated with (NULL: none).
ALTER TABLE campaign_versions ADD COLUMN fragments TEXT;
