-- Proofs: messages sent to test addresses, rendered at request time (the
-- `rendered` column holds them from the start). No report counts them.
ALTER TABLE messages ADD COLUMN proof INTEGER NOT NULL DEFAULT 0;
