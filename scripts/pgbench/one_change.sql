-- One message.append as taskwire commits it: bump the conversation, insert the
-- message, take the user's next seq, append the event. One transaction.
\set user random(1, 200)
BEGIN;
UPDATE conversation SET updated_at = now() WHERE id = :user;
INSERT INTO message (user_id, conversation_id, role, content, created_at)
  VALUES ('u' || :user, :user, 'user', 'pgbench', now());
INSERT INTO event_seq (user_id, seq) VALUES ('u' || :user, 1)
  ON CONFLICT (user_id) DO UPDATE SET seq = event_seq.seq + 1 RETURNING seq;
INSERT INTO event_log (user_id, seq, name, data, created_at)
  SELECT 'u' || :user, seq, 'message.appended', '{"pgbench":true}', now()
  FROM event_seq WHERE user_id = 'u' || :user;
COMMIT;
