-- Fifty message.appends in one transaction: what group commit can reach. Each
-- client writes its own fifty users (client_id * 50 + 1 ..), so clients never
-- wait on each other's rows (run with at most 4 clients: 200 users).
BEGIN;
\set u0 :client_id * 50 + 1
UPDATE conversation SET updated_at = now() WHERE id = :u0;
INSERT INTO message (user_id, conversation_id, role, content, created_at) VALUES ('u' || :u0, :u0, 'user', 'pgbench', now());
INSERT INTO event_seq (user_id, seq) VALUES ('u' || :u0, 1) ON CONFLICT (user_id) DO UPDATE SET seq = event_seq.seq + 1;
INSERT INTO event_log (user_id, seq, name, data, created_at) SELECT 'u' || :u0, seq, 'message.appended', '{"pgbench":true}', now() FROM event_seq WHERE user_id = 'u' || :u0;
\set u1 :client_id * 50 + 2
UPDATE conversation SET updated_at = now() WHERE id = :u1;
INSERT INTO message (user_id, conversation_id, role, content, created_at) VALUES ('u' || :u1, :u1, 'user', 'pgbench', now());
INSERT INTO event_seq (user_id, seq) VALUES ('u' || :u1, 1) ON CONFLICT (user_id) DO UPDATE SET seq = event_seq.seq + 1;
INSERT INTO event_log (user_id, seq, name, data, created_at) SELECT 'u' || :u1, seq, 'message.appended', '{"pgbench":true}', now() FROM event_seq WHERE user_id = 'u' || :u1;
\set u2 :client_id * 50 + 3
UPDATE conversation SET updated_at = now() WHERE id = :u2;
INSERT INTO message (user_id, conversation_id, role, content, created_at) VALUES ('u' || :u2, :u2, 'user', 'pgbench', now());
INSERT INTO event_seq (user_id, seq) VALUES ('u' || :u2, 1) ON CONFLICT (user_id) DO UPDATE SET seq = event_seq.seq + 1;
INSERT INTO event_log (user_id, seq, name, data, created_at) SELECT 'u' || :u2, seq, 'message.appended', '{"pgbench":true}', now() FROM event_seq WHERE user_id = 'u' || :u2;
\set u3 :client_id * 50 + 4
UPDATE conversation SET updated_at = now() WHERE id = :u3;
INSERT INTO message (user_id, conversation_id, role, content, created_at) VALUES ('u' || :u3, :u3, 'user', 'pgbench', now());
INSERT INTO event_seq (user_id, seq) VALUES ('u' || :u3, 1) ON CONFLICT (user_id) DO UPDATE SET seq = event_seq.seq + 1;
INSERT INTO event_log (user_id, seq, name, data, created_at) SELECT 'u' || :u3, seq, 'message.appended', '{"pgbench":true}', now() FROM event_seq WHERE user_id = 'u' || :u3;
\set u4 :client_id * 50 + 5
UPDATE conversation SET updated_at = now() WHERE id = :u4;
INSERT INTO message (user_id, conversation_id, role, content, created_at) VALUES ('u' || :u4, :u4, 'user', 'pgbench', now());
INSERT INTO event_seq (user_id, seq) VALUES ('u' || :u4, 1) ON CONFLICT (user_id) DO UPDATE SET seq = event_seq.seq + 1;
INSERT INTO event_log (user_id, seq, name, data, created_at) SELECT 'u' || :u4, seq, 'message.appended', '{"pgbench":true}', now() FROM event_seq WHERE user_id = 'u' || :u4;
\set u5 :client_id * 50 + 6
UPDATE conversation SET updated_at = now() WHERE id = :u5;
INSERT INTO message (user_id, conversation_id, role, content, created_at) VALUES ('u' || :u5, :u5, 'user', 'pgbench', now());
INSERT INTO event_seq (user_id, seq) VALUES ('u' || :u5, 1) ON CONFLICT (user_id) DO UPDATE SET seq = event_seq.seq + 1;
INSERT INTO event_log (user_id, seq, name, data, created_at) SELECT 'u' || :u5, seq, 'message.appended', '{"pgbench":true}', now() FROM event_seq WHERE user_id = 'u' || :u5;
\set u6 :client_id * 50 + 7
UPDATE conversation SET updated_at = now() WHERE id = :u6;
INSERT INTO message (user_id, conversation_id, role, content, created_at) VALUES ('u' || :u6, :u6, 'user', 'pgbench', now());
INSERT INTO event_seq (user_id, seq) VALUES ('u' || :u6, 1) ON CONFLICT (user_id) DO UPDATE SET seq = event_seq.seq + 1;
INSERT INTO event_log (user_id, seq, name, data, created_at) SELECT 'u' || :u6, seq, 'message.appended', '{"pgbench":true}', now() FROM event_seq WHERE user_id = 'u' || :u6;
\set u7 :client_id * 50 + 8
UPDATE conversation SET updated_at = now() WHERE id = :u7;
INSERT INTO message (user_id, conversation_id, role, content, created_at) VALUES ('u' || :u7, :u7, 'user', 'pgbench', now());
INSERT INTO event_seq (user_id, seq) VALUES ('u' || :u7, 1) ON CONFLICT (user_id) DO UPDATE SET seq = event_seq.seq + 1;
INSERT INTO event_log (user_id, seq, name, data, created_at) SELECT 'u' || :u7, seq, 'message.appended', '{"pgbench":true}', now() FROM event_seq WHERE user_id = 'u' || :u7;
\set u8 :client_id * 50 + 9
UPDATE conversation SET updated_at = now() WHERE id = :u8;
INSERT INTO message (user_id, conversation_id, role, content, created_at) VALUES ('u' || :u8, :u8, 'user', 'pgbench', now());
INSERT INTO event_seq (user_id, seq) VALUES ('u' || :u8, 1) ON CONFLICT (user_id) DO UPDATE SET seq = event_seq.seq + 1;
INSERT INTO event_log (user_id, seq, name, data, created_at) SELECT 'u' || :u8, seq, 'message.appended', '{"pgbench":true}', now() FROM event_seq WHERE user_id = 'u' || :u8;
\set u9 :client_id * 50 + 10
UPDATE conversation SET updated_at = now() WHERE id = :u9;
INSERT INTO message (user_id, conversation_id, role, content, created_at) VALUES ('u' || :u9, :u9, 'user', 'pgbench', now());
INSERT INTO event_seq (user_id, seq) VALUES ('u' || :u9, 1) ON CONFLICT (user_id) DO UPDATE SET seq = event_seq.seq + 1;
INSERT INTO event_log (user_id, seq, name, data, created_at) SELECT 'u' || :u9, seq, 'message.appended', '{"pgbench":true}', now() FROM event_seq WHERE user_id = 'u' || :u9;
\set u10 :client_id * 50 + 11
UPDATE conversation SET updated_at = now() WHERE id = :u10;
INSERT INTO message (user_id, conversation_id, role, content, created_at) VALUES ('u' || :u10, :u10, 'user', 'pgbench', now());
INSERT INTO event_seq (user_id, seq) VALUES ('u' || :u10, 1) ON CONFLICT (user_id) DO UPDATE SET seq = event_seq.seq + 1;
INSERT INTO event_log (user_id, seq, name, data, created_at) SELECT 'u' || :u10, seq, 'message.appended', '{"pgbench":true}', now() FROM event_seq WHERE user_id = 'u' || :u10;
\set u11 :client_id * 50 + 12
UPDATE conversation SET updated_at = now() WHERE id = :u11;
INSERT INTO message (user_id, conversation_id, role, content, created_at) VALUES ('u' || :u11, :u11, 'user', 'pgbench', now());
INSERT INTO event_seq (user_id, seq) VALUES ('u' || :u11, 1) ON CONFLICT (user_id) DO UPDATE SET seq = event_seq.seq + 1;
INSERT INTO event_log (user_id, seq, name, data, created_at) SELECT 'u' || :u11, seq, 'message.appended', '{"pgbench":true}', now() FROM event_seq WHERE user_id = 'u' || :u11;
\set u12 :client_id * 50 + 13
UPDATE conversation SET updated_at = now() WHERE id = :u12;
INSERT INTO message (user_id, conversation_id, role, content, created_at) VALUES ('u' || :u12, :u12, 'user', 'pgbench', now());
INSERT INTO event_seq (user_id, seq) VALUES ('u' || :u12, 1) ON CONFLICT (user_id) DO UPDATE SET seq = event_seq.seq + 1;
INSERT INTO event_log (user_id, seq, name, data, created_at) SELECT 'u' || :u12, seq, 'message.appended', '{"pgbench":true}', now() FROM event_seq WHERE user_id = 'u' || :u12;
\set u13 :client_id * 50 + 14
UPDATE conversation SET updated_at = now() WHERE id = :u13;
INSERT INTO message (user_id, conversation_id, role, content, created_at) VALUES ('u' || :u13, :u13, 'user', 'pgbench', now());
INSERT INTO event_seq (user_id, seq) VALUES ('u' || :u13, 1) ON CONFLICT (user_id) DO UPDATE SET seq = event_seq.seq + 1;
INSERT INTO event_log (user_id, seq, name, data, created_at) SELECT 'u' || :u13, seq, 'message.appended', '{"pgbench":true}', now() FROM event_seq WHERE user_id = 'u' || :u13;
\set u14 :client_id * 50 + 15
UPDATE conversation SET updated_at = now() WHERE id = :u14;
INSERT INTO message (user_id, conversation_id, role, content, created_at) VALUES ('u' || :u14, :u14, 'user', 'pgbench', now());
INSERT INTO event_seq (user_id, seq) VALUES ('u' || :u14, 1) ON CONFLICT (user_id) DO UPDATE SET seq = event_seq.seq + 1;
INSERT INTO event_log (user_id, seq, name, data, created_at) SELECT 'u' || :u14, seq, 'message.appended', '{"pgbench":true}', now() FROM event_seq WHERE user_id = 'u' || :u14;
\set u15 :client_id * 50 + 16
UPDATE conversation SET updated_at = now() WHERE id = :u15;
INSERT INTO message (user_id, conversation_id, role, content, created_at) VALUES ('u' || :u15, :u15, 'user', 'pgbench', now());
INSERT INTO event_seq (user_id, seq) VALUES ('u' || :u15, 1) ON CONFLICT (user_id) DO UPDATE SET seq = event_seq.seq + 1;
INSERT INTO event_log (user_id, seq, name, data, created_at) SELECT 'u' || :u15, seq, 'message.appended', '{"pgbench":true}', now() FROM event_seq WHERE user_id = 'u' || :u15;
\set u16 :client_id * 50 + 17
UPDATE conversation SET updated_at = now() WHERE id = :u16;
INSERT INTO message (user_id, conversation_id, role, content, created_at) VALUES ('u' || :u16, :u16, 'user', 'pgbench', now());
INSERT INTO event_seq (user_id, seq) VALUES ('u' || :u16, 1) ON CONFLICT (user_id) DO UPDATE SET seq = event_seq.seq + 1;
INSERT INTO event_log (user_id, seq, name, data, created_at) SELECT 'u' || :u16, seq, 'message.appended', '{"pgbench":true}', now() FROM event_seq WHERE user_id = 'u' || :u16;
\set u17 :client_id * 50 + 18
UPDATE conversation SET updated_at = now() WHERE id = :u17;
INSERT INTO message (user_id, conversation_id, role, content, created_at) VALUES ('u' || :u17, :u17, 'user', 'pgbench', now());
INSERT INTO event_seq (user_id, seq) VALUES ('u' || :u17, 1) ON CONFLICT (user_id) DO UPDATE SET seq = event_seq.seq + 1;
INSERT INTO event_log (user_id, seq, name, data, created_at) SELECT 'u' || :u17, seq, 'message.appended', '{"pgbench":true}', now() FROM event_seq WHERE user_id = 'u' || :u17;
\set u18 :client_id * 50 + 19
UPDATE conversation SET updated_at = now() WHERE id = :u18;
INSERT INTO message (user_id, conversation_id, role, content, created_at) VALUES ('u' || :u18, :u18, 'user', 'pgbench', now());
INSERT INTO event_seq (user_id, seq) VALUES ('u' || :u18, 1) ON CONFLICT (user_id) DO UPDATE SET seq = event_seq.seq + 1;
INSERT INTO event_log (user_id, seq, name, data, created_at) SELECT 'u' || :u18, seq, 'message.appended', '{"pgbench":true}', now() FROM event_seq WHERE user_id = 'u' || :u18;
\set u19 :client_id * 50 + 20
UPDATE conversation SET updated_at = now() WHERE id = :u19;
INSERT INTO message (user_id, conversation_id, role, content, created_at) VALUES ('u' || :u19, :u19, 'user', 'pgbench', now());
INSERT INTO event_seq (user_id, seq) VALUES ('u' || :u19, 1) ON CONFLICT (user_id) DO UPDATE SET seq = event_seq.seq + 1;
INSERT INTO event_log (user_id, seq, name, data, created_at) SELECT 'u' || :u19, seq, 'message.appended', '{"pgbench":true}', now() FROM event_seq WHERE user_id = 'u' || :u19;
\set u20 :client_id * 50 + 21
UPDATE conversation SET updated_at = now() WHERE id = :u20;
INSERT INTO message (user_id, conversation_id, role, content, created_at) VALUES ('u' || :u20, :u20, 'user', 'pgbench', now());
INSERT INTO event_seq (user_id, seq) VALUES ('u' || :u20, 1) ON CONFLICT (user_id) DO UPDATE SET seq = event_seq.seq + 1;
INSERT INTO event_log (user_id, seq, name, data, created_at) SELECT 'u' || :u20, seq, 'message.appended', '{"pgbench":true}', now() FROM event_seq WHERE user_id = 'u' || :u20;
\set u21 :client_id * 50 + 22
UPDATE conversation SET updated_at = now() WHERE id = :u21;
INSERT INTO message (user_id, conversation_id, role, content, created_at) VALUES ('u' || :u21, :u21, 'user', 'pgbench', now());
INSERT INTO event_seq (user_id, seq) VALUES ('u' || :u21, 1) ON CONFLICT (user_id) DO UPDATE SET seq = event_seq.seq + 1;
INSERT INTO event_log (user_id, seq, name, data, created_at) SELECT 'u' || :u21, seq, 'message.appended', '{"pgbench":true}', now() FROM event_seq WHERE user_id = 'u' || :u21;
\set u22 :client_id * 50 + 23
UPDATE conversation SET updated_at = now() WHERE id = :u22;
INSERT INTO message (user_id, conversation_id, role, content, created_at) VALUES ('u' || :u22, :u22, 'user', 'pgbench', now());
INSERT INTO event_seq (user_id, seq) VALUES ('u' || :u22, 1) ON CONFLICT (user_id) DO UPDATE SET seq = event_seq.seq + 1;
INSERT INTO event_log (user_id, seq, name, data, created_at) SELECT 'u' || :u22, seq, 'message.appended', '{"pgbench":true}', now() FROM event_seq WHERE user_id = 'u' || :u22;
\set u23 :client_id * 50 + 24
UPDATE conversation SET updated_at = now() WHERE id = :u23;
INSERT INTO message (user_id, conversation_id, role, content, created_at) VALUES ('u' || :u23, :u23, 'user', 'pgbench', now());
INSERT INTO event_seq (user_id, seq) VALUES ('u' || :u23, 1) ON CONFLICT (user_id) DO UPDATE SET seq = event_seq.seq + 1;
INSERT INTO event_log (user_id, seq, name, data, created_at) SELECT 'u' || :u23, seq, 'message.appended', '{"pgbench":true}', now() FROM event_seq WHERE user_id = 'u' || :u23;
\set u24 :client_id * 50 + 25
UPDATE conversation SET updated_at = now() WHERE id = :u24;
INSERT INTO message (user_id, conversation_id, role, content, created_at) VALUES ('u' || :u24, :u24, 'user', 'pgbench', now());
INSERT INTO event_seq (user_id, seq) VALUES ('u' || :u24, 1) ON CONFLICT (user_id) DO UPDATE SET seq = event_seq.seq + 1;
INSERT INTO event_log (user_id, seq, name, data, created_at) SELECT 'u' || :u24, seq, 'message.appended', '{"pgbench":true}', now() FROM event_seq WHERE user_id = 'u' || :u24;
\set u25 :client_id * 50 + 26
UPDATE conversation SET updated_at = now() WHERE id = :u25;
INSERT INTO message (user_id, conversation_id, role, content, created_at) VALUES ('u' || :u25, :u25, 'user', 'pgbench', now());
INSERT INTO event_seq (user_id, seq) VALUES ('u' || :u25, 1) ON CONFLICT (user_id) DO UPDATE SET seq = event_seq.seq + 1;
INSERT INTO event_log (user_id, seq, name, data, created_at) SELECT 'u' || :u25, seq, 'message.appended', '{"pgbench":true}', now() FROM event_seq WHERE user_id = 'u' || :u25;
\set u26 :client_id * 50 + 27
UPDATE conversation SET updated_at = now() WHERE id = :u26;
INSERT INTO message (user_id, conversation_id, role, content, created_at) VALUES ('u' || :u26, :u26, 'user', 'pgbench', now());
INSERT INTO event_seq (user_id, seq) VALUES ('u' || :u26, 1) ON CONFLICT (user_id) DO UPDATE SET seq = event_seq.seq + 1;
INSERT INTO event_log (user_id, seq, name, data, created_at) SELECT 'u' || :u26, seq, 'message.appended', '{"pgbench":true}', now() FROM event_seq WHERE user_id = 'u' || :u26;
\set u27 :client_id * 50 + 28
UPDATE conversation SET updated_at = now() WHERE id = :u27;
INSERT INTO message (user_id, conversation_id, role, content, created_at) VALUES ('u' || :u27, :u27, 'user', 'pgbench', now());
INSERT INTO event_seq (user_id, seq) VALUES ('u' || :u27, 1) ON CONFLICT (user_id) DO UPDATE SET seq = event_seq.seq + 1;
INSERT INTO event_log (user_id, seq, name, data, created_at) SELECT 'u' || :u27, seq, 'message.appended', '{"pgbench":true}', now() FROM event_seq WHERE user_id = 'u' || :u27;
\set u28 :client_id * 50 + 29
UPDATE conversation SET updated_at = now() WHERE id = :u28;
INSERT INTO message (user_id, conversation_id, role, content, created_at) VALUES ('u' || :u28, :u28, 'user', 'pgbench', now());
INSERT INTO event_seq (user_id, seq) VALUES ('u' || :u28, 1) ON CONFLICT (user_id) DO UPDATE SET seq = event_seq.seq + 1;
INSERT INTO event_log (user_id, seq, name, data, created_at) SELECT 'u' || :u28, seq, 'message.appended', '{"pgbench":true}', now() FROM event_seq WHERE user_id = 'u' || :u28;
\set u29 :client_id * 50 + 30
UPDATE conversation SET updated_at = now() WHERE id = :u29;
INSERT INTO message (user_id, conversation_id, role, content, created_at) VALUES ('u' || :u29, :u29, 'user', 'pgbench', now());
INSERT INTO event_seq (user_id, seq) VALUES ('u' || :u29, 1) ON CONFLICT (user_id) DO UPDATE SET seq = event_seq.seq + 1;
INSERT INTO event_log (user_id, seq, name, data, created_at) SELECT 'u' || :u29, seq, 'message.appended', '{"pgbench":true}', now() FROM event_seq WHERE user_id = 'u' || :u29;
\set u30 :client_id * 50 + 31
UPDATE conversation SET updated_at = now() WHERE id = :u30;
INSERT INTO message (user_id, conversation_id, role, content, created_at) VALUES ('u' || :u30, :u30, 'user', 'pgbench', now());
INSERT INTO event_seq (user_id, seq) VALUES ('u' || :u30, 1) ON CONFLICT (user_id) DO UPDATE SET seq = event_seq.seq + 1;
INSERT INTO event_log (user_id, seq, name, data, created_at) SELECT 'u' || :u30, seq, 'message.appended', '{"pgbench":true}', now() FROM event_seq WHERE user_id = 'u' || :u30;
\set u31 :client_id * 50 + 32
UPDATE conversation SET updated_at = now() WHERE id = :u31;
INSERT INTO message (user_id, conversation_id, role, content, created_at) VALUES ('u' || :u31, :u31, 'user', 'pgbench', now());
INSERT INTO event_seq (user_id, seq) VALUES ('u' || :u31, 1) ON CONFLICT (user_id) DO UPDATE SET seq = event_seq.seq + 1;
INSERT INTO event_log (user_id, seq, name, data, created_at) SELECT 'u' || :u31, seq, 'message.appended', '{"pgbench":true}', now() FROM event_seq WHERE user_id = 'u' || :u31;
\set u32 :client_id * 50 + 33
UPDATE conversation SET updated_at = now() WHERE id = :u32;
INSERT INTO message (user_id, conversation_id, role, content, created_at) VALUES ('u' || :u32, :u32, 'user', 'pgbench', now());
INSERT INTO event_seq (user_id, seq) VALUES ('u' || :u32, 1) ON CONFLICT (user_id) DO UPDATE SET seq = event_seq.seq + 1;
INSERT INTO event_log (user_id, seq, name, data, created_at) SELECT 'u' || :u32, seq, 'message.appended', '{"pgbench":true}', now() FROM event_seq WHERE user_id = 'u' || :u32;
\set u33 :client_id * 50 + 34
UPDATE conversation SET updated_at = now() WHERE id = :u33;
INSERT INTO message (user_id, conversation_id, role, content, created_at) VALUES ('u' || :u33, :u33, 'user', 'pgbench', now());
INSERT INTO event_seq (user_id, seq) VALUES ('u' || :u33, 1) ON CONFLICT (user_id) DO UPDATE SET seq = event_seq.seq + 1;
INSERT INTO event_log (user_id, seq, name, data, created_at) SELECT 'u' || :u33, seq, 'message.appended', '{"pgbench":true}', now() FROM event_seq WHERE user_id = 'u' || :u33;
\set u34 :client_id * 50 + 35
UPDATE conversation SET updated_at = now() WHERE id = :u34;
INSERT INTO message (user_id, conversation_id, role, content, created_at) VALUES ('u' || :u34, :u34, 'user', 'pgbench', now());
INSERT INTO event_seq (user_id, seq) VALUES ('u' || :u34, 1) ON CONFLICT (user_id) DO UPDATE SET seq = event_seq.seq + 1;
INSERT INTO event_log (user_id, seq, name, data, created_at) SELECT 'u' || :u34, seq, 'message.appended', '{"pgbench":true}', now() FROM event_seq WHERE user_id = 'u' || :u34;
\set u35 :client_id * 50 + 36
UPDATE conversation SET updated_at = now() WHERE id = :u35;
INSERT INTO message (user_id, conversation_id, role, content, created_at) VALUES ('u' || :u35, :u35, 'user', 'pgbench', now());
INSERT INTO event_seq (user_id, seq) VALUES ('u' || :u35, 1) ON CONFLICT (user_id) DO UPDATE SET seq = event_seq.seq + 1;
INSERT INTO event_log (user_id, seq, name, data, created_at) SELECT 'u' || :u35, seq, 'message.appended', '{"pgbench":true}', now() FROM event_seq WHERE user_id = 'u' || :u35;
\set u36 :client_id * 50 + 37
UPDATE conversation SET updated_at = now() WHERE id = :u36;
INSERT INTO message (user_id, conversation_id, role, content, created_at) VALUES ('u' || :u36, :u36, 'user', 'pgbench', now());
INSERT INTO event_seq (user_id, seq) VALUES ('u' || :u36, 1) ON CONFLICT (user_id) DO UPDATE SET seq = event_seq.seq + 1;
INSERT INTO event_log (user_id, seq, name, data, created_at) SELECT 'u' || :u36, seq, 'message.appended', '{"pgbench":true}', now() FROM event_seq WHERE user_id = 'u' || :u36;
\set u37 :client_id * 50 + 38
UPDATE conversation SET updated_at = now() WHERE id = :u37;
INSERT INTO message (user_id, conversation_id, role, content, created_at) VALUES ('u' || :u37, :u37, 'user', 'pgbench', now());
INSERT INTO event_seq (user_id, seq) VALUES ('u' || :u37, 1) ON CONFLICT (user_id) DO UPDATE SET seq = event_seq.seq + 1;
INSERT INTO event_log (user_id, seq, name, data, created_at) SELECT 'u' || :u37, seq, 'message.appended', '{"pgbench":true}', now() FROM event_seq WHERE user_id = 'u' || :u37;
\set u38 :client_id * 50 + 39
UPDATE conversation SET updated_at = now() WHERE id = :u38;
INSERT INTO message (user_id, conversation_id, role, content, created_at) VALUES ('u' || :u38, :u38, 'user', 'pgbench', now());
INSERT INTO event_seq (user_id, seq) VALUES ('u' || :u38, 1) ON CONFLICT (user_id) DO UPDATE SET seq = event_seq.seq + 1;
INSERT INTO event_log (user_id, seq, name, data, created_at) SELECT 'u' || :u38, seq, 'message.appended', '{"pgbench":true}', now() FROM event_seq WHERE user_id = 'u' || :u38;
\set u39 :client_id * 50 + 40
UPDATE conversation SET updated_at = now() WHERE id = :u39;
INSERT INTO message (user_id, conversation_id, role, content, created_at) VALUES ('u' || :u39, :u39, 'user', 'pgbench', now());
INSERT INTO event_seq (user_id, seq) VALUES ('u' || :u39, 1) ON CONFLICT (user_id) DO UPDATE SET seq = event_seq.seq + 1;
INSERT INTO event_log (user_id, seq, name, data, created_at) SELECT 'u' || :u39, seq, 'message.appended', '{"pgbench":true}', now() FROM event_seq WHERE user_id = 'u' || :u39;
\set u40 :client_id * 50 + 41
UPDATE conversation SET updated_at = now() WHERE id = :u40;
INSERT INTO message (user_id, conversation_id, role, content, created_at) VALUES ('u' || :u40, :u40, 'user', 'pgbench', now());
INSERT INTO event_seq (user_id, seq) VALUES ('u' || :u40, 1) ON CONFLICT (user_id) DO UPDATE SET seq = event_seq.seq + 1;
INSERT INTO event_log (user_id, seq, name, data, created_at) SELECT 'u' || :u40, seq, 'message.appended', '{"pgbench":true}', now() FROM event_seq WHERE user_id = 'u' || :u40;
\set u41 :client_id * 50 + 42
UPDATE conversation SET updated_at = now() WHERE id = :u41;
INSERT INTO message (user_id, conversation_id, role, content, created_at) VALUES ('u' || :u41, :u41, 'user', 'pgbench', now());
INSERT INTO event_seq (user_id, seq) VALUES ('u' || :u41, 1) ON CONFLICT (user_id) DO UPDATE SET seq = event_seq.seq + 1;
INSERT INTO event_log (user_id, seq, name, data, created_at) SELECT 'u' || :u41, seq, 'message.appended', '{"pgbench":true}', now() FROM event_seq WHERE user_id = 'u' || :u41;
\set u42 :client_id * 50 + 43
UPDATE conversation SET updated_at = now() WHERE id = :u42;
INSERT INTO message (user_id, conversation_id, role, content, created_at) VALUES ('u' || :u42, :u42, 'user', 'pgbench', now());
INSERT INTO event_seq (user_id, seq) VALUES ('u' || :u42, 1) ON CONFLICT (user_id) DO UPDATE SET seq = event_seq.seq + 1;
INSERT INTO event_log (user_id, seq, name, data, created_at) SELECT 'u' || :u42, seq, 'message.appended', '{"pgbench":true}', now() FROM event_seq WHERE user_id = 'u' || :u42;
\set u43 :client_id * 50 + 44
UPDATE conversation SET updated_at = now() WHERE id = :u43;
INSERT INTO message (user_id, conversation_id, role, content, created_at) VALUES ('u' || :u43, :u43, 'user', 'pgbench', now());
INSERT INTO event_seq (user_id, seq) VALUES ('u' || :u43, 1) ON CONFLICT (user_id) DO UPDATE SET seq = event_seq.seq + 1;
INSERT INTO event_log (user_id, seq, name, data, created_at) SELECT 'u' || :u43, seq, 'message.appended', '{"pgbench":true}', now() FROM event_seq WHERE user_id = 'u' || :u43;
\set u44 :client_id * 50 + 45
UPDATE conversation SET updated_at = now() WHERE id = :u44;
INSERT INTO message (user_id, conversation_id, role, content, created_at) VALUES ('u' || :u44, :u44, 'user', 'pgbench', now());
INSERT INTO event_seq (user_id, seq) VALUES ('u' || :u44, 1) ON CONFLICT (user_id) DO UPDATE SET seq = event_seq.seq + 1;
INSERT INTO event_log (user_id, seq, name, data, created_at) SELECT 'u' || :u44, seq, 'message.appended', '{"pgbench":true}', now() FROM event_seq WHERE user_id = 'u' || :u44;
\set u45 :client_id * 50 + 46
UPDATE conversation SET updated_at = now() WHERE id = :u45;
INSERT INTO message (user_id, conversation_id, role, content, created_at) VALUES ('u' || :u45, :u45, 'user', 'pgbench', now());
INSERT INTO event_seq (user_id, seq) VALUES ('u' || :u45, 1) ON CONFLICT (user_id) DO UPDATE SET seq = event_seq.seq + 1;
INSERT INTO event_log (user_id, seq, name, data, created_at) SELECT 'u' || :u45, seq, 'message.appended', '{"pgbench":true}', now() FROM event_seq WHERE user_id = 'u' || :u45;
\set u46 :client_id * 50 + 47
UPDATE conversation SET updated_at = now() WHERE id = :u46;
INSERT INTO message (user_id, conversation_id, role, content, created_at) VALUES ('u' || :u46, :u46, 'user', 'pgbench', now());
INSERT INTO event_seq (user_id, seq) VALUES ('u' || :u46, 1) ON CONFLICT (user_id) DO UPDATE SET seq = event_seq.seq + 1;
INSERT INTO event_log (user_id, seq, name, data, created_at) SELECT 'u' || :u46, seq, 'message.appended', '{"pgbench":true}', now() FROM event_seq WHERE user_id = 'u' || :u46;
\set u47 :client_id * 50 + 48
UPDATE conversation SET updated_at = now() WHERE id = :u47;
INSERT INTO message (user_id, conversation_id, role, content, created_at) VALUES ('u' || :u47, :u47, 'user', 'pgbench', now());
INSERT INTO event_seq (user_id, seq) VALUES ('u' || :u47, 1) ON CONFLICT (user_id) DO UPDATE SET seq = event_seq.seq + 1;
INSERT INTO event_log (user_id, seq, name, data, created_at) SELECT 'u' || :u47, seq, 'message.appended', '{"pgbench":true}', now() FROM event_seq WHERE user_id = 'u' || :u47;
\set u48 :client_id * 50 + 49
UPDATE conversation SET updated_at = now() WHERE id = :u48;
INSERT INTO message (user_id, conversation_id, role, content, created_at) VALUES ('u' || :u48, :u48, 'user', 'pgbench', now());
INSERT INTO event_seq (user_id, seq) VALUES ('u' || :u48, 1) ON CONFLICT (user_id) DO UPDATE SET seq = event_seq.seq + 1;
INSERT INTO event_log (user_id, seq, name, data, created_at) SELECT 'u' || :u48, seq, 'message.appended', '{"pgbench":true}', now() FROM event_seq WHERE user_id = 'u' || :u48;
\set u49 :client_id * 50 + 50
UPDATE conversation SET updated_at = now() WHERE id = :u49;
INSERT INTO message (user_id, conversation_id, role, content, created_at) VALUES ('u' || :u49, :u49, 'user', 'pgbench', now());
INSERT INTO event_seq (user_id, seq) VALUES ('u' || :u49, 1) ON CONFLICT (user_id) DO UPDATE SET seq = event_seq.seq + 1;
INSERT INTO event_log (user_id, seq, name, data, created_at) SELECT 'u' || :u49, seq, 'message.appended', '{"pgbench":true}', now() FROM event_seq WHERE user_id = 'u' || :u49;
COMMIT;
