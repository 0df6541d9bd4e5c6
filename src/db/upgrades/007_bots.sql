-- Step 7: bot users of project and group access tokens (GitLab's resource access tokens). A bot
-- belongs to one project or one group and goes with it; the added columns go last, as ALTER
-- TABLE puts them.

ALTER TABLE users ADD COLUMN bot_project_id INTEGER REFERENCES projects(id) ON DELETE CASCADE;
ALTER TABLE users ADD COLUMN bot_namespace_id INTEGER REFERENCES namespaces(id) ON DELETE CASCADE;
CREATE INDEX users_bot_project ON users(bot_project_id) WHERE bot_project_id IS NOT NULL;
CREATE INDEX users_bot_namespace ON users(bot_namespace_id) WHERE bot_namespace_id IS NOT NULL;
