-- Reports from counters maintained as messages and events are written, so a
-- campaign's report reads a few thousand rows however many events it has.
--
-- Triggers keep most counters: every path that changes a message's status or
-- writes an event (delivery outcomes, resends, tracking, inbound bounces) is
-- counted the same way, in the same transaction. Message inserts are the
-- exception (see below).

-- What an event is about, as a code the report groups by (an exclusion or
-- failure reason, `hard`/`soft` for bounces, the link index of a click,
-- `machine` for a privacy proxy's open, `retry` for a retry), and its extra
-- facts as JSON (user agent, truncated IP, DSN fields).
ALTER TABLE message_events ADD COLUMN reason TEXT;
ALTER TABLE message_events ADD COLUMN data TEXT;

-- Event counters per campaign and minute. `execution_id` is '' for the
-- campaign's total and the execution's id for its own rows, so a campaign
-- report never sums over its (possibly millions of) unitary executions.
CREATE TABLE report_rollup (
    campaign_id  TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    bucket       INTEGER NOT NULL,  -- unix ms / 60000
    metric       TEXT NOT NULL,
    dim          TEXT NOT NULL,     -- domain, reason, link URL, locale, or ''
    n            INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, execution_id, bucket, metric, dim)
) WITHOUT ROWID;

-- Messages by current status (byStatus), kept on every status change.
CREATE TABLE report_status (
    campaign_id  TEXT NOT NULL,
    execution_id TEXT NOT NULL,     -- '' for the campaign's total
    status       TEXT NOT NULL,
    n            INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, execution_id, status)
) WITHOUT ROWID;

-- Inserted messages are counted by the writer (`sqlite/rollup.rs`), one
-- upsert per distinct key and batch: a per-row trigger cost a fan-out a
-- third of its speed. Status changes and events are counted here.

CREATE TRIGGER report_message_status AFTER UPDATE OF status ON messages
WHEN NEW.proof = 0 AND OLD.status <> NEW.status
BEGIN
    UPDATE report_status SET n = n - 1
    WHERE campaign_id = OLD.campaign_id AND execution_id IN ('', OLD.execution_id)
      AND status = OLD.status;
    INSERT INTO report_status (campaign_id, execution_id, status, n)
    VALUES (NEW.campaign_id, '', NEW.status, 1), (NEW.campaign_id, NEW.execution_id, NEW.status, 1)
    ON CONFLICT (campaign_id, execution_id, status) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER report_message_deleted AFTER DELETE ON messages WHEN OLD.proof = 0
BEGIN
    UPDATE report_status SET n = n - 1
    WHERE campaign_id = OLD.campaign_id AND execution_id IN ('', OLD.execution_id)
      AND status = OLD.status;
END;

-- A link of a campaign version (`version:index`, the dimension of click
-- counters: a personalized link is one link, not one per recipient) and the
-- URL of its first click, to show in `byLink`.
CREATE TABLE report_links (
    campaign_id TEXT NOT NULL,
    link        TEXT NOT NULL,
    url         TEXT NOT NULL,
    PRIMARY KEY (campaign_id, link)
) WITHOUT ROWID;

-- The first open, first click, and first click per link of each message:
-- what makes an open or a click unique, found by key instead of by
-- scanning the message's events (a message may have thousands).
CREATE TABLE engagement_firsts (
    message_id TEXT NOT NULL,
    kind       TEXT NOT NULL,      -- 'open' or 'click'
    link       INTEGER NOT NULL,   -- the link index; -1 for the message
    PRIMARY KEY (message_id, kind, link)
) WITHOUT ROWID;

-- One event → its metric, counted twice: for the campaign ('') and for the
-- execution. Sends, bounces and delivered are per recipient domain.
CREATE TRIGGER report_event AFTER INSERT ON message_events
WHEN NEW.status IN ('sent', 'delivered', 'bounced', 'failed', 'unknown', 'excluded',
                    'queued', 'opened', 'clicked', 'unsubscribed', 'resubscribed', 'complained')
BEGIN
    INSERT INTO report_rollup (campaign_id, execution_id, bucket, metric, dim, n)
    SELECT m.campaign_id,
           CASE WHEN k.i = 0 THEN '' ELSE m.execution_id END,
           NEW.at / 60000,
           CASE NEW.status
                WHEN 'bounced' THEN 'bounced.' || COALESCE(NEW.reason, 'hard')
                WHEN 'queued' THEN 'retry'
                WHEN 'opened' THEN CASE WHEN NEW.reason = 'machine' THEN 'opened.machine' ELSE 'opened' END
                ELSE NEW.status END,
           CASE WHEN NEW.status IN ('sent', 'delivered', 'bounced')
                THEN CASE WHEN m.address LIKE '%@%'
                          THEN lower(substr(m.address, instr(m.address, '@') + 1))
                          ELSE '' END
                WHEN NEW.status IN ('failed', 'excluded') THEN COALESCE(NEW.reason, 'other')
                WHEN NEW.status = 'clicked' THEN m.campaign_version || ':' || COALESCE(NEW.reason, '')
                WHEN NEW.status IN ('unsubscribed', 'resubscribed', 'complained')
                THEN COALESCE(NEW.reason, '')
                ELSE '' END,
           1
    FROM messages m, (SELECT 0 AS i UNION ALL SELECT 1) k
    WHERE m.id = NEW.message_id AND m.proof = 0
      AND (NEW.status <> 'queued' OR NEW.reason = 'retry')
    ON CONFLICT (campaign_id, execution_id, bucket, metric, dim) DO UPDATE SET n = n + 1;
END;

-- Unique opens: the first open that is not a machine's.
CREATE TRIGGER report_first_open AFTER INSERT ON message_events
WHEN NEW.status = 'opened' AND NEW.reason IS NOT 'machine'
BEGIN
    INSERT INTO report_rollup (campaign_id, execution_id, bucket, metric, dim, n)
    SELECT m.campaign_id, CASE WHEN k.i = 0 THEN '' ELSE m.execution_id END,
           NEW.at / 60000, 'opened.unique', '', 1
    FROM messages m, (SELECT 0 AS i UNION ALL SELECT 1) k
    WHERE m.id = NEW.message_id AND m.proof = 0
      AND NOT EXISTS (SELECT 1 FROM engagement_firsts f
                      WHERE f.message_id = NEW.message_id AND f.kind = 'open' AND f.link = -1)
    ON CONFLICT (campaign_id, execution_id, bucket, metric, dim) DO UPDATE SET n = n + 1;
    INSERT OR IGNORE INTO engagement_firsts (message_id, kind, link)
    VALUES (NEW.message_id, 'open', -1);
END;

-- Unique clicks: the message's first click (uniqueClicks) and its first
-- click on each link (byLink.uniqueClicks). A click with no open before it
-- (images blocked) implies one: it counts as the unique open, so the
-- click-to-open rate never exceeds 1.
CREATE TRIGGER report_first_click AFTER INSERT ON message_events
WHEN NEW.status = 'clicked'
BEGIN
    INSERT INTO report_rollup (campaign_id, execution_id, bucket, metric, dim, n)
    SELECT m.campaign_id, CASE WHEN k.i = 0 THEN '' ELSE m.execution_id END,
           NEW.at / 60000, 'opened.unique', '', 1
    FROM messages m, (SELECT 0 AS i UNION ALL SELECT 1) k
    WHERE m.id = NEW.message_id AND m.proof = 0 AND m.channel = 'email'
      AND NOT EXISTS (SELECT 1 FROM engagement_firsts f
                      WHERE f.message_id = NEW.message_id AND f.kind = 'open' AND f.link = -1)
    ON CONFLICT (campaign_id, execution_id, bucket, metric, dim) DO UPDATE SET n = n + 1;
    INSERT OR IGNORE INTO engagement_firsts (message_id, kind, link)
    SELECT NEW.message_id, 'open', -1 FROM messages m
    WHERE m.id = NEW.message_id AND m.channel = 'email';
    INSERT INTO report_rollup (campaign_id, execution_id, bucket, metric, dim, n)
    SELECT m.campaign_id, CASE WHEN k.i = 0 THEN '' ELSE m.execution_id END,
           NEW.at / 60000, 'clicked.message', '', 1
    FROM messages m, (SELECT 0 AS i UNION ALL SELECT 1) k
    WHERE m.id = NEW.message_id AND m.proof = 0
      AND NOT EXISTS (SELECT 1 FROM engagement_firsts f
                      WHERE f.message_id = NEW.message_id AND f.kind = 'click' AND f.link = -1)
    ON CONFLICT (campaign_id, execution_id, bucket, metric, dim) DO UPDATE SET n = n + 1;
    INSERT INTO report_rollup (campaign_id, execution_id, bucket, metric, dim, n)
    SELECT m.campaign_id, CASE WHEN k.i = 0 THEN '' ELSE m.execution_id END,
           NEW.at / 60000, 'clicked.unique', m.campaign_version || ':' || COALESCE(NEW.reason, ''), 1
    FROM messages m, (SELECT 0 AS i UNION ALL SELECT 1) k
    WHERE m.id = NEW.message_id AND m.proof = 0
      AND NOT EXISTS (SELECT 1 FROM engagement_firsts f
                      WHERE f.message_id = NEW.message_id AND f.kind = 'click'
                        AND f.link = COALESCE(CAST(NEW.reason AS INTEGER), -2))
    ON CONFLICT (campaign_id, execution_id, bucket, metric, dim) DO UPDATE SET n = n + 1;
    INSERT OR IGNORE INTO engagement_firsts (message_id, kind, link)
    VALUES (NEW.message_id, 'click', -1),
           (NEW.message_id, 'click', COALESCE(CAST(NEW.reason AS INTEGER), -2));
    INSERT OR IGNORE INTO report_links (campaign_id, link, url)
    SELECT m.campaign_id, m.campaign_version || ':' || COALESCE(NEW.reason, ''), COALESCE(NEW.detail, '')
    FROM messages m WHERE m.id = NEW.message_id AND m.proof = 0;
END;

-- Counters for what was stored before this migration.
INSERT INTO report_status (campaign_id, execution_id, status, n)
SELECT campaign_id, '', status, count(*) FROM messages WHERE proof = 0
GROUP BY campaign_id, status;
INSERT INTO report_status (campaign_id, execution_id, status, n)
SELECT campaign_id, execution_id, status, count(*) FROM messages WHERE proof = 0
GROUP BY campaign_id, execution_id, status;

INSERT INTO report_rollup (campaign_id, execution_id, bucket, metric, dim, n)
SELECT m.campaign_id, CASE WHEN k.i = 0 THEN '' ELSE m.execution_id END,
       m.created_at / 60000,
       CASE WHEN m.resend_of IS NULL THEN 'targeted' ELSE 'resent' END,
       COALESCE(m.locale, ''), count(*)
FROM messages m, (SELECT 0 AS i UNION ALL SELECT 1) k
WHERE m.proof = 0
GROUP BY 1, 2, 3, 4, 5;

-- Events written before reasons were recorded: exclusion reasons come from
-- the message, retries from the event's text.
INSERT INTO report_rollup (campaign_id, execution_id, bucket, metric, dim, n)
SELECT m.campaign_id, CASE WHEN k.i = 0 THEN '' ELSE m.execution_id END,
       e.at / 60000,
       CASE WHEN e.status = 'bounced' THEN 'bounced.hard'
            WHEN e.status = 'queued' THEN 'retry'
            ELSE e.status END,
       CASE WHEN e.status IN ('sent', 'delivered', 'bounced') AND m.address LIKE '%@%'
                 THEN lower(substr(m.address, instr(m.address, '@') + 1))
            WHEN e.status = 'excluded' THEN COALESCE(m.exclusion_reason, 'other')
            WHEN e.status = 'failed' THEN 'other'
            ELSE '' END,
       count(*)
FROM message_events e JOIN messages m ON m.id = e.message_id,
     (SELECT 0 AS i UNION ALL SELECT 1) k
WHERE m.proof = 0
  AND (e.status IN ('sent', 'delivered', 'bounced', 'failed', 'unknown', 'excluded')
       OR (e.status = 'queued' AND e.detail LIKE '%; retry at %'))
GROUP BY 1, 2, 3, 4, 5;
