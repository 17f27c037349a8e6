-- The old FastAPI backend's schema, as SQLModel created it (naive timestamps
-- holding UTC, integer ids from sequences). `IF NOT EXISTS` everywhere: a
-- database made by the old backend is adopted as it is.
CREATE TABLE IF NOT EXISTS conversation (
    id serial PRIMARY KEY,
    user_id character varying NOT NULL,
    created_at timestamp without time zone DEFAULT CURRENT_TIMESTAMP NOT NULL,
    updated_at timestamp without time zone DEFAULT CURRENT_TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS message (
    id serial PRIMARY KEY,
    user_id character varying NOT NULL,
    conversation_id integer NOT NULL REFERENCES conversation (id),
    role character varying NOT NULL,
    content text NOT NULL,
    created_at timestamp without time zone DEFAULT CURRENT_TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS task (
    title character varying NOT NULL,
    description character varying,
    completed boolean NOT NULL,
    user_id character varying NOT NULL,
    priority character varying NOT NULL,
    due_date timestamp without time zone,
    id serial PRIMARY KEY,
    created_at timestamp without time zone DEFAULT CURRENT_TIMESTAMP NOT NULL,
    updated_at timestamp without time zone DEFAULT CURRENT_TIMESTAMP NOT NULL
);

CREATE INDEX IF NOT EXISTS idx_user_completed ON task (user_id, completed);
CREATE INDEX IF NOT EXISTS ix_task_user_id ON task (user_id);
CREATE INDEX IF NOT EXISTS ix_task_completed ON task (completed);
CREATE INDEX IF NOT EXISTS ix_conversation_user_id ON conversation (user_id);
CREATE INDEX IF NOT EXISTS ix_message_user_id ON message (user_id);
CREATE INDEX IF NOT EXISTS ix_message_conversation_id ON message (conversation_id, id);
