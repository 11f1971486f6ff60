-- Reports from counters maintained as messages and events are written, so a
-- campaign's report reads a few thousand rows however many events it has.
--
-- Triggers keep the counters, not the Rust writers: every path that inserts a
-- message or an event (accept, fan-out, delivery outcomes, resends, tracking,
-- inbound bounces) is counted the same way, in the same transaction.

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

CREATE TRIGGER report_message_inserted AFTER INSERT ON messages WHEN NEW.proof = 0
BEGIN
    INSERT INTO report_status (campaign_id, execution_id, status, n)
    VALUES (NEW.campaign_id, '', NEW.status, 1), (NEW.campaign_id, NEW.execution_id, NEW.status, 1)
    ON CONFLICT (campaign_id, execution_id, status) DO UPDATE SET n = n + 1;
    -- A resend by hand is another attempt at the same recipient, not a new one.
    INSERT INTO report_rollup (campaign_id, execution_id, bucket, metric, dim, n)
    VALUES (NEW.campaign_id, '', NEW.created_at / 60000,
            CASE WHEN NEW.resend_of IS NULL THEN 'targeted' ELSE 'resent' END,
            COALESCE(NEW.locale, ''), 1),
           (NEW.campaign_id, NEW.execution_id, NEW.created_at / 60000,
            CASE WHEN NEW.resend_of IS NULL THEN 'targeted' ELSE 'resent' END,
            COALESCE(NEW.locale, ''), 1)
    ON CONFLICT (campaign_id, execution_id, bucket, metric, dim) DO UPDATE SET n = n + 1;
END;

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

-- One event → its metrics (unique opens and clicks: the first of their kind
-- for the message, found through message_events_by_message), counted twice:
-- for the campaign ('') and for the execution.
CREATE TRIGGER report_event AFTER INSERT ON message_events
BEGIN
    INSERT INTO report_rollup (campaign_id, execution_id, bucket, metric, dim, n)
    SELECT m.campaign_id,
           CASE WHEN k.i = 0 THEN '' ELSE m.execution_id END,
           NEW.at / 60000,
           f.metric,
           CASE WHEN f.dim IS NULL
                THEN CASE WHEN m.address LIKE '%@%'
                          THEN lower(substr(m.address, instr(m.address, '@') + 1))
                          ELSE '' END
                ELSE f.dim END,
           1
    FROM messages m,
         (SELECT 0 AS i UNION ALL SELECT 1) k,
         (SELECT 'sent' AS metric, NULL AS dim WHERE NEW.status = 'sent'
          UNION ALL SELECT 'delivered', NULL WHERE NEW.status = 'delivered'
          UNION ALL SELECT 'bounced.' || COALESCE(NEW.reason, 'hard'), NULL
                    WHERE NEW.status = 'bounced'
          UNION ALL SELECT 'failed', COALESCE(NEW.reason, 'other') WHERE NEW.status = 'failed'
          UNION ALL SELECT 'unknown', '' WHERE NEW.status = 'unknown'
          UNION ALL SELECT 'excluded', COALESCE(NEW.reason, 'other') WHERE NEW.status = 'excluded'
          UNION ALL SELECT 'retry', '' WHERE NEW.status = 'queued' AND NEW.reason = 'retry'
          UNION ALL SELECT CASE WHEN NEW.reason = 'machine' THEN 'opened.machine' ELSE 'opened' END, ''
                    WHERE NEW.status = 'opened'
          UNION ALL SELECT 'opened.unique', ''
                    WHERE NEW.status = 'opened' AND NEW.reason IS NOT 'machine'
                      AND NOT EXISTS (SELECT 1 FROM message_events p
                                      WHERE p.message_id = NEW.message_id AND p.seq < NEW.seq
                                        AND p.status = 'opened' AND p.reason IS NOT 'machine')
          UNION ALL SELECT 'clicked', COALESCE(NEW.detail, '') WHERE NEW.status = 'clicked'
          UNION ALL SELECT 'clicked.unique', COALESCE(NEW.detail, '')
                    WHERE NEW.status = 'clicked'
                      AND NOT EXISTS (SELECT 1 FROM message_events p
                                      WHERE p.message_id = NEW.message_id AND p.seq < NEW.seq
                                        AND p.status = 'clicked' AND p.reason IS NEW.reason)
          UNION ALL SELECT 'clicked.message', ''
                    WHERE NEW.status = 'clicked'
                      AND NOT EXISTS (SELECT 1 FROM message_events p
                                      WHERE p.message_id = NEW.message_id AND p.seq < NEW.seq
                                        AND p.status = 'clicked')
          UNION ALL SELECT NEW.status, COALESCE(NEW.reason, '')
                    WHERE NEW.status IN ('unsubscribed', 'resubscribed', 'complained')) f
    WHERE m.id = NEW.message_id AND m.proof = 0
    ON CONFLICT (campaign_id, execution_id, bucket, metric, dim) DO UPDATE SET n = n + 1;
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
