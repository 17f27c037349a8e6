-- A change made by a WebSocket request keeps the request's `id` and a fingerprint of
-- the parsed request: the id is its idempotency key (design §6), decided here, in the
-- same transaction as the change, under a unique key.
ALTER TABLE event_log ADD COLUMN request_id VARCHAR;
ALTER TABLE event_log ADD COLUMN request_hash VARCHAR;
CREATE UNIQUE INDEX IF NOT EXISTS ux_event_log_request ON event_log (user_id, request_id);
