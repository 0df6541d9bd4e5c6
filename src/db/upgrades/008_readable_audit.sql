-- Step 8: an audit trail that can be read (GitLab's audit events). Each event now says who
-- acted (the user's id, when a user did), what it is about (a user, group or project, by id,
-- so a group's owners can list what happened in it), the client's address, and details as
-- JSON. Rows written before keep NULL there and read as before. The table is rebuilt with
-- AUTOINCREMENT so that pruning old events (retention) never lets an id be handed out again.

CREATE TABLE audit_events_rebuilt (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    author_id   INTEGER,
    entity_type TEXT CHECK (entity_type IN ('User', 'Group', 'Project')),
    entity_id   INTEGER,
    ip_address  TEXT,
    details     TEXT,
    CHECK ((entity_type IS NULL) = (entity_id IS NULL))
);
INSERT INTO audit_events_rebuilt (id, actor, action, target, created_at)
    SELECT id, actor, action, target, created_at FROM audit_events;
DROP TABLE audit_events;
ALTER TABLE audit_events_rebuilt RENAME TO audit_events;
CREATE INDEX audit_events_time ON audit_events(created_at);
CREATE INDEX audit_events_entity ON audit_events(entity_type, entity_id);
CREATE INDEX audit_events_actor ON audit_events(actor);
