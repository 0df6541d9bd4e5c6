-- Wheelhouse schema: creates a fresh database at the latest version (src/db/mod.rs sets
-- PRAGMA user_version). A database made by an older release is brought here by the numbered
-- steps in src/db/upgrades/, and a test checks both roads end at the same schema.
--
-- Ids of users, namespaces, projects, packages, files and tokens are AUTOINCREMENT: an id is
-- never handed out twice, so a pip.conf naming /projects/8/ can never start reading another
-- team's project after project 8 is deleted.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT NOT NULL UNIQUE COLLATE NOCASE,
    email         TEXT,
    password_hash TEXT NOT NULL,            -- argon2id PHC string
    is_admin      INTEGER NOT NULL DEFAULT 0,
    is_blocked    INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,         -- unix milliseconds, like every *_at column
    name          TEXT,                     -- the display name; NULL: the username
    -- A bot of a project or group access token: it goes with its project or group.
    bot_project_id   INTEGER REFERENCES projects(id) ON DELETE CASCADE,
    bot_namespace_id INTEGER REFERENCES namespaces(id) ON DELETE CASCADE
);

-- Users' personal namespaces and groups. A group's full_path is its parent's plus '/' plus path.
CREATE TABLE namespaces (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    kind          TEXT NOT NULL CHECK (kind IN ('user', 'group')),
    path          TEXT NOT NULL,
    full_path     TEXT NOT NULL UNIQUE COLLATE NOCASE,
    parent_id     INTEGER REFERENCES namespaces(id),
    owner_user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,   -- for kind = 'user'
    visibility    TEXT NOT NULL CHECK (visibility IN ('private', 'internal', 'public')),
    created_at    INTEGER NOT NULL,
    name          TEXT,                     -- a group's display name; NULL: its path
    description   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX namespaces_parent ON namespaces(parent_id);
CREATE UNIQUE INDEX namespaces_owner ON namespaces(owner_user_id) WHERE owner_user_id IS NOT NULL;

CREATE TABLE projects (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace_id          INTEGER NOT NULL REFERENCES namespaces(id),
    path                  TEXT NOT NULL,
    full_path             TEXT NOT NULL UNIQUE COLLATE NOCASE,
    visibility            TEXT NOT NULL CHECK (visibility IN ('private', 'internal', 'public')),
    allow_file_replace    INTEGER NOT NULL DEFAULT 0,
    created_at            INTEGER NOT NULL,
    name                  TEXT,             -- the display name; NULL: the path
    description           TEXT NOT NULL DEFAULT ''
);
CREATE INDEX projects_namespace ON projects(namespace_id);
CREATE INDEX users_bot_project ON users(bot_project_id) WHERE bot_project_id IS NOT NULL;
CREATE INDEX users_bot_namespace ON users(bot_namespace_id) WHERE bot_namespace_id IS NOT NULL;

-- GitLab's access levels: guest 10, reporter 20, developer 30, maintainer 40, owner 50.
CREATE TABLE members (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    namespace_id INTEGER REFERENCES namespaces(id) ON DELETE CASCADE,
    project_id   INTEGER REFERENCES projects(id) ON DELETE CASCADE,
    access_level INTEGER NOT NULL CHECK (access_level IN (10, 20, 30, 40, 50)),
    created_at   INTEGER NOT NULL,
    CHECK ((namespace_id IS NULL) <> (project_id IS NULL))
);
CREATE UNIQUE INDEX members_namespace ON members(namespace_id, user_id) WHERE namespace_id IS NOT NULL;
CREATE UNIQUE INDEX members_project ON members(project_id, user_id) WHERE project_id IS NOT NULL;
CREATE INDEX members_user ON members(user_id);

-- Only the SHA-256 digest of a token's secret is kept; a request finds its token by that digest.
CREATE TABLE personal_access_tokens (
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
CREATE INDEX personal_access_tokens_user ON personal_access_tokens(user_id);

CREATE TABLE deploy_tokens (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace_id  INTEGER REFERENCES namespaces(id) ON DELETE CASCADE,
    project_id    INTEGER REFERENCES projects(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    username      TEXT NOT NULL,             -- not unique: the secret finds the token
    token_digest  TEXT NOT NULL UNIQUE,
    scopes        TEXT NOT NULL,
    expires_on    TEXT,
    revoked_at    INTEGER,
    last_used_at  INTEGER,
    created_at    INTEGER NOT NULL,
    CHECK ((namespace_id IS NULL) <> (project_id IS NULL))
);
CREATE INDEX deploy_tokens_namespace ON deploy_tokens(namespace_id);
CREATE INDEX deploy_tokens_project ON deploy_tokens(project_id);

-- One row per (project, normalized name, normalized version).
CREATE TABLE packages (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id   INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,              -- PEP 503 normalized
    display_name TEXT NOT NULL,              -- as first uploaded
    version      TEXT NOT NULL,              -- PEP 440 normalized
    status       TEXT NOT NULL DEFAULT 'default',
    created_at   INTEGER NOT NULL,
    UNIQUE (project_id, name, version)
);

CREATE TABLE package_files (
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
    -- PEP 643: 1 when metadata_sha256 is offered as core metadata (wheels; sdists whose
    -- PKG-INFO is 2.2+ with static dependencies), 0 when not, NULL until judged.
    offers_metadata      INTEGER,
    -- When the file entered its top-level namespace (upload, import, or a transfer from
    -- another root), unix milliseconds made strictly increasing: a group index serves, of the
    -- files sharing a filename, the one that entered first (never decided by created_at,
    -- which travels with a transfer and an import may backdate).
    entered_root_at      INTEGER NOT NULL DEFAULT 0,
    UNIQUE (project_id, filename)
);
CREATE INDEX package_files_package ON package_files(package_id);
CREATE INDEX package_files_sha256 ON package_files(sha256);
CREATE INDEX package_files_metadata ON package_files(metadata_sha256);
CREATE INDEX package_files_unjudged ON package_files(id) WHERE offers_metadata IS NULL;
CREATE INDEX package_files_entered_root ON package_files(entered_root_at);

-- The bytes each group's index serves under a filename, for good: recorded for every group
-- above a file when it enters that group (upload, import, a transfer into it), the first of a
-- filename kept. A group index serves a filename only with these bytes, so no sibling upload,
-- move, import, deletion, replacement or move-out ever makes it serve other bytes under it:
-- without a live file of these bytes it serves nothing under that filename.
CREATE TABLE group_filenames (
    group_id  INTEGER NOT NULL REFERENCES namespaces(id) ON DELETE CASCADE,
    filename  TEXT NOT NULL,
    sha256    TEXT NOT NULL,
    PRIMARY KEY (group_id, filename)
) WITHOUT ROWID;

-- Filenames once stored and since deleted: such a name may come back only with the same bytes,
-- so a pinned hash never silently changes meaning.
CREATE TABLE deleted_files (
    project_id  INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    filename    TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    deleted_at  INTEGER NOT NULL,
    PRIMARY KEY (project_id, filename)
);

CREATE TABLE package_metadata (
    package_id               INTEGER PRIMARY KEY REFERENCES packages(id) ON DELETE CASCADE,
    metadata_version         TEXT,
    summary                  TEXT,
    description              TEXT,
    description_content_type TEXT,
    keywords                 TEXT,
    author                   TEXT,
    author_email             TEXT,
    maintainer               TEXT,
    maintainer_email         TEXT,
    license                  TEXT,
    home_page                TEXT,
    requires_python          TEXT,
    classifiers              TEXT NOT NULL DEFAULT '[]',   -- JSON arrays of strings
    requires_dist            TEXT NOT NULL DEFAULT '[]',
    project_urls             TEXT NOT NULL DEFAULT '[]',
    -- The description as safe HTML, rendered once (at upload, or at the first view of a row
    -- stored before rendering was kept) and served as stored.
    description_html         TEXT
);

CREATE TABLE web_sessions (
    id            INTEGER PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    session_digest TEXT NOT NULL UNIQUE,
    csrf_token    TEXT NOT NULL,
    expires_at    INTEGER NOT NULL,
    created_at    INTEGER NOT NULL
);

CREATE TABLE audit_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    actor       TEXT NOT NULL,               -- 'user:NAME', 'deploy-token:USERNAME', 'cli', 'anonymous'
    action      TEXT NOT NULL,               -- 'upload', 'token.create', 'session.fail', …
    target      TEXT NOT NULL,               -- what changed, as text (a path, a file, a name)
    created_at  INTEGER NOT NULL,
    author_id   INTEGER,                     -- the acting user's id (kept after they are gone)
    entity_type TEXT CHECK (entity_type IN ('User', 'Group', 'Project')),
    entity_id   INTEGER,                     -- the user, group (namespace) or project's id
    ip_address  TEXT,                        -- the client, as the trusted-proxy rules found it
    details     TEXT,                        -- a JSON object of what else the change said
    CHECK ((entity_type IS NULL) = (entity_id IS NULL))
);
CREATE INDEX audit_events_time ON audit_events(created_at);
CREATE INDEX audit_events_entity ON audit_events(entity_type, entity_id);
CREATE INDEX audit_events_actor ON audit_events(actor);

-- Upstream indexes cached through a group (the `upstream` module).

-- A top-level group's upstream indexes, asked in `position` order for names the group does
-- not publish. The password is kept as given (it must be sent); no API or page shows it.
CREATE TABLE upstreams (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    group_id      INTEGER NOT NULL REFERENCES namespaces(id) ON DELETE CASCADE,
    position      INTEGER NOT NULL,
    url           TEXT NOT NULL,
    username      TEXT,
    password      TEXT,
    cache_hours   INTEGER NOT NULL CHECK (cache_hours >= 0),
    created_at    INTEGER NOT NULL,
    UNIQUE (group_id, url)
);

-- Name patterns of a top-level group: `reserve` (never upstream: the group's own, published or
-- not), `deny` (never upstream), `allow` (when any exist, only these go upstream).
CREATE TABLE upstream_rules (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    group_id      INTEGER NOT NULL REFERENCES namespaces(id) ON DELETE CASCADE,
    kind          TEXT NOT NULL CHECK (kind IN ('reserve', 'allow', 'deny')),
    pattern       TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    UNIQUE (group_id, kind, pattern)
);

-- Every normalized package name ever uploaded under a top-level namespace (its projects at any
-- depth). Never deleted with the package: a name once private stays guarded from upstreams.
CREATE TABLE published_names (
    root_id       INTEGER NOT NULL REFERENCES namespaces(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    PRIMARY KEY (root_id, name)
) WITHOUT ROWID;

-- One upstream's answer for one name, as last fetched: `found` 0 when it had no such name.
CREATE TABLE upstream_pages (
    upstream_id   INTEGER NOT NULL REFERENCES upstreams(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    found         INTEGER NOT NULL,
    etag          TEXT,
    last_modified TEXT,
    checked_at    INTEGER NOT NULL,        -- when the upstream last confirmed it
    PRIMARY KEY (upstream_id, name)
) WITHOUT ROWID;

-- The files of a cached page, with what the upstream said of them.
CREATE TABLE upstream_files (
    upstream_id     INTEGER NOT NULL,
    name            TEXT NOT NULL,
    filename        TEXT NOT NULL,
    version         TEXT NOT NULL,
    url             TEXT NOT NULL,
    sha256          TEXT NOT NULL,
    size            INTEGER,
    requires_python TEXT,
    yanked          TEXT,                  -- NULL: not yanked; '' yanked without a reason
    metadata_sha256 TEXT,
    upload_time     TEXT,
    PRIMARY KEY (upstream_id, name, filename),
    FOREIGN KEY (upstream_id, name) REFERENCES upstream_pages(upstream_id, name) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX upstream_files_sha256 ON upstream_files(sha256);
CREATE INDEX upstream_files_metadata ON upstream_files(metadata_sha256) WHERE metadata_sha256 IS NOT NULL;

-- Upstream bytes (files and their metadata) held in the blob store, verified against the
-- digest the upstream advertised; evicted least recently used first past the size cap.
CREATE TABLE upstream_blobs (
    sha256        TEXT PRIMARY KEY,
    size          INTEGER NOT NULL,
    fetched_at    INTEGER NOT NULL,
    last_used_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX upstream_blobs_lru ON upstream_blobs(last_used_at);
