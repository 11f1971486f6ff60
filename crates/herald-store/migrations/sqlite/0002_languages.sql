-- Multilingual content: language settings per sandbox, the settings a
-- campaign version was activated with, and the locale of each message.

CREATE TABLE language_settings (
    sandbox     TEXT NOT NULL,
    id          TEXT NOT NULL,
    name        TEXT NOT NULL,
    doc         TEXT NOT NULL,  -- the settings as JSON
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (sandbox, id)
);

-- JSON of the language settings as they were at activation (NULL: none).
ALTER TABLE campaign_versions ADD COLUMN language_settings TEXT;

-- The BCP 47 tag a message is rendered in (NULL: not multilingual, or
-- excluded before a locale was chosen).
ALTER TABLE messages ADD COLUMN locale TEXT;
