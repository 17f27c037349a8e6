-- The old FastAPI backend's schema, as SQLModel created it. `IF NOT EXISTS`
-- everywhere: a database made by the old backend is adopted as it is.
CREATE TABLE IF NOT EXISTS conversation (
	id INTEGER NOT NULL,
	user_id VARCHAR NOT NULL,
	created_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL,
	updated_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL,
	PRIMARY KEY (id)
);

CREATE TABLE IF NOT EXISTS message (
	id INTEGER NOT NULL,
	user_id VARCHAR NOT NULL,
	conversation_id INTEGER NOT NULL,
	role VARCHAR NOT NULL,
	content TEXT NOT NULL,
	created_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(conversation_id) REFERENCES conversation (id)
);

CREATE TABLE IF NOT EXISTS task (
	title VARCHAR NOT NULL,
	description VARCHAR,
	completed BOOLEAN NOT NULL,
	user_id VARCHAR NOT NULL,
	priority VARCHAR NOT NULL,
	due_date DATETIME,
	id INTEGER NOT NULL,
	created_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL,
	updated_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL,
	PRIMARY KEY (id)
);

CREATE INDEX IF NOT EXISTS idx_user_completed ON task (user_id, completed);
CREATE INDEX IF NOT EXISTS ix_task_user_id ON task (user_id);
CREATE INDEX IF NOT EXISTS ix_task_completed ON task (completed);
CREATE INDEX IF NOT EXISTS ix_conversation_user_id ON conversation (user_id);
CREATE INDEX IF NOT EXISTS ix_message_user_id ON message (user_id);
CREATE INDEX IF NOT EXISTS ix_message_conversation_id ON message (conversation_id, id);
