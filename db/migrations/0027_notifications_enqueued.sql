-- Up Migration

-- Each statement that adds rows to the outbox (or retries a dead one) tells its listeners at commit (the IO workers,
-- which wake the dispatcher workflow: services/outbox-listener.ts), so a row goes out at once whoever enqueued it and
-- the dispatcher's own poll is only a safety net. Postgres folds repeats within a transaction into one notification.
CREATE FUNCTION notifications_enqueued() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('notifications_enqueued', '');
  RETURN NULL;
END
$$;
CREATE TRIGGER notifications_enqueued AFTER INSERT ON notifications FOR EACH STATEMENT EXECUTE FUNCTION notifications_enqueued();
-- A dead row an operator retries (services/dead-letters.ts) is due again at once too.
CREATE TRIGGER notifications_requeued AFTER UPDATE OF status ON notifications FOR EACH ROW
  WHEN (OLD.status = 'dead' AND NEW.status = 'pending') EXECUTE FUNCTION notifications_enqueued();

-- Down Migration
DROP TRIGGER notifications_requeued ON notifications;
DROP TRIGGER notifications_enqueued ON notifications;
DROP FUNCTION notifications_enqueued();
