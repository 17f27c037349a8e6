-- The per-user event log behind live fan-out and `resume`: every committed change
-- gets the next `seq` of its user (contiguous, from 1) and is kept for replay.
CREATE TABLE IF NOT EXISTS event_seq (
    user_id character varying PRIMARY KEY,
    seq bigint NOT NULL
);

CREATE TABLE IF NOT EXISTS event_log (
    user_id character varying NOT NULL,
    seq bigint NOT NULL,
    name character varying NOT NULL,
    data text NOT NULL,
    created_at timestamp without time zone NOT NULL,
    PRIMARY KEY (user_id, seq)
);

CREATE INDEX IF NOT EXISTS ix_event_log_created_at ON event_log (created_at);
