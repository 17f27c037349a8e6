-- The per-user event log behind live fan-out and `resume`: every committed change
-- gets the next `seq` of its user (contiguous, from 1) and is kept for replay.
CREATE TABLE IF NOT EXISTS event_seq (
	user_id VARCHAR NOT NULL PRIMARY KEY,
	seq BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS event_log (
	user_id VARCHAR NOT NULL,
	seq BIGINT NOT NULL,
	name VARCHAR NOT NULL,
	data TEXT NOT NULL,
	created_at DATETIME NOT NULL,
	PRIMARY KEY (user_id, seq)
);

CREATE INDEX IF NOT EXISTS ix_event_log_created_at ON event_log (created_at);
