-- Step 2: ids are never reused. SQLite cannot ALTER a column to AUTOINCREMENT, so each table
-- whose ids the outside world holds (users, namespaces, projects, tokens, packages, files) is
-- rebuilt by SQLite's documented procedure: create the new table, copy every row with its id,
-- drop the old, rename the new, recreate its indexes. migrate() runs this with foreign keys off
-- (so dropping a parent cascades nothing) and checks them all before committing. Copying the ids
-- into an AUTOINCREMENT table records the largest in sqlite_sequence, so no id in use today is
-- handed out again.

CREATE TABLE users_rebuilt (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT NOT NULL UNIQUE COLLATE NOCASE,
    email         TEXT,
    password_hash TEXT NOT NULL,            -- argon2id PHC string
    is_admin      INTEGER NOT NULL DEFAULT 0,
    is_blocked    INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL          -- unix milliseconds, like every *_at column
);
INSERT INTO users_rebuilt SELECT * FROM users;
DROP TABLE users;
ALTER TABLE users_rebuilt RENAME TO users;

CREATE TABLE namespaces_rebuilt (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    kind          TEXT NOT NULL CHECK (kind IN ('user', 'group')),
    path          TEXT NOT NULL,
    full_path     TEXT NOT NULL UNIQUE COLLATE NOCASE,
    parent_id     INTEGER REFERENCES namespaces(id),
    owner_user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,   -- for kind = 'user'
    visibility    TEXT NOT NULL CHECK (visibility IN ('private', 'internal', 'public')),
    created_at    INTEGER NOT NULL
);
INSERT INTO namespaces_rebuilt SELECT * FROM namespaces;
DROP TABLE namespaces;
ALTER TABLE namespaces_rebuilt RENAME TO namespaces;
CREATE INDEX namespaces_parent ON namespaces(parent_id);
CREATE UNIQUE INDEX namespaces_owner ON namespaces(owner_user_id) WHERE owner_user_id IS NOT NULL;

CREATE TABLE projects_rebuilt (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace_id          INTEGER NOT NULL REFERENCES namespaces(id),
    path                  TEXT NOT NULL,
    full_path             TEXT NOT NULL UNIQUE COLLATE NOCASE,
    visibility            TEXT NOT NULL CHECK (visibility IN ('private', 'internal', 'public')),
    allow_file_replace    INTEGER NOT NULL DEFAULT 0,
    created_at            INTEGER NOT NULL
);
INSERT INTO projects_rebuilt SELECT * FROM projects;
DROP TABLE projects;
ALTER TABLE projects_rebuilt RENAME TO projects;
CREATE INDEX projects_namespace ON projects(namespace_id);

CREATE TABLE personal_access_tokens_rebuilt (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    token_digest  TEXT NOT NULL UNIQUE,
    scopes        TEXT NOT NULL,             -- comma-separated
    expires_on    TEXT,                      -- YYYY-MM-DD; the token works through that day (UTC)
    revoked_at    INTEGER,
    last_used_at  INTEGER,
    created_at    INTEGER NOT NULL
);
INSERT INTO personal_access_tokens_rebuilt SELECT * FROM personal_access_tokens;
DROP TABLE personal_access_tokens;
ALTER TABLE personal_access_tokens_rebuilt RENAME TO personal_access_tokens;
CREATE INDEX personal_access_tokens_user ON personal_access_tokens(user_id);

CREATE TABLE deploy_tokens_rebuilt (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace_id  INTEGER REFERENCES namespaces(id) ON DELETE CASCADE,
    project_id    INTEGER REFERENCES projects(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    username      TEXT NOT NULL UNIQUE,
    token_digest  TEXT NOT NULL UNIQUE,
    scopes        TEXT NOT NULL,
    expires_on    TEXT,
    revoked_at    INTEGER,
    last_used_at  INTEGER,
    created_at    INTEGER NOT NULL,
    CHECK ((namespace_id IS NULL) <> (project_id IS NULL))
);
INSERT INTO deploy_tokens_rebuilt SELECT * FROM deploy_tokens;
DROP TABLE deploy_tokens;
ALTER TABLE deploy_tokens_rebuilt RENAME TO deploy_tokens;
CREATE INDEX deploy_tokens_namespace ON deploy_tokens(namespace_id);
CREATE INDEX deploy_tokens_project ON deploy_tokens(project_id);

CREATE TABLE packages_rebuilt (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id   INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,              -- PEP 503 normalized
    display_name TEXT NOT NULL,              -- as first uploaded
    version      TEXT NOT NULL,              -- PEP 440 normalized
    status       TEXT NOT NULL DEFAULT 'default',
    created_at   INTEGER NOT NULL,
    UNIQUE (project_id, name, version)
);
INSERT INTO packages_rebuilt SELECT * FROM packages;
DROP TABLE packages;
ALTER TABLE packages_rebuilt RENAME TO packages;

CREATE TABLE package_files_rebuilt (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    package_id           INTEGER NOT NULL REFERENCES packages(id) ON DELETE CASCADE,
    project_id           INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    filename             TEXT NOT NULL,
    size                 INTEGER NOT NULL,
    sha256               TEXT NOT NULL,
    md5                  TEXT NOT NULL,
    blake2b_256          TEXT NOT NULL,
    requires_python      TEXT,
    filetype             TEXT NOT NULL,      -- bdist_wheel or sdist
    python_version       TEXT,
    metadata_sha256      TEXT,               -- digest of the extracted METADATA / PKG-INFO blob
    yanked               INTEGER NOT NULL DEFAULT 0,
    yanked_reason        TEXT,
    uploader_user_id     INTEGER REFERENCES users(id) ON DELETE SET NULL,
    uploader_deploy_token_id INTEGER REFERENCES deploy_tokens(id) ON DELETE SET NULL,
    created_at           INTEGER NOT NULL,
    UNIQUE (project_id, filename)
);
INSERT INTO package_files_rebuilt SELECT * FROM package_files;
DROP TABLE package_files;
ALTER TABLE package_files_rebuilt RENAME TO package_files;
CREATE INDEX package_files_package ON package_files(package_id);
CREATE INDEX package_files_sha256 ON package_files(sha256);
CREATE INDEX package_files_metadata ON package_files(metadata_sha256);
