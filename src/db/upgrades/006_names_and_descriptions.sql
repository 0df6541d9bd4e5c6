-- Step 6: names and descriptions as GitLab keeps them (a user's and a group's or project's
-- display name, a group's or project's description), and deploy-token usernames chosen by
-- their creators, which GitLab does not require to be unique (a token is found by its secret;
-- the username only has to match it). The added columns go last, as ALTER TABLE puts them;
-- deploy_tokens is rebuilt (SQLite cannot drop a UNIQUE constraint) with foreign keys off, as
-- migrate() runs every step.

ALTER TABLE users ADD COLUMN name TEXT;
ALTER TABLE namespaces ADD COLUMN name TEXT;
ALTER TABLE namespaces ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE projects ADD COLUMN name TEXT;
ALTER TABLE projects ADD COLUMN description TEXT NOT NULL DEFAULT '';

CREATE TABLE deploy_tokens_rebuilt (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace_id  INTEGER REFERENCES namespaces(id) ON DELETE CASCADE,
    project_id    INTEGER REFERENCES projects(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    username      TEXT NOT NULL,
    token_digest  TEXT NOT NULL UNIQUE,
    scopes        TEXT NOT NULL,
    expires_on    TEXT,
    revoked_at    INTEGER,
    last_used_at  INTEGER,
    created_at    INTEGER NOT NULL,
    CHECK ((namespace_id IS NULL) <> (project_id IS NULL))
);
INSERT INTO deploy_tokens_rebuilt SELECT * FROM deploy_tokens;
-- The sequence goes along, so the id of a token deleted before the upgrade is never handed out.
DELETE FROM sqlite_sequence WHERE name = 'deploy_tokens_rebuilt';
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'deploy_tokens_rebuilt', seq FROM sqlite_sequence WHERE name = 'deploy_tokens';
DROP TABLE deploy_tokens;
ALTER TABLE deploy_tokens_rebuilt RENAME TO deploy_tokens;
CREATE INDEX deploy_tokens_namespace ON deploy_tokens(namespace_id);
CREATE INDEX deploy_tokens_project ON deploy_tokens(project_id);
