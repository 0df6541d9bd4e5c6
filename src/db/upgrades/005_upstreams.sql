-- Step 5, upstream indexes cached through a group (the `upstream` module).

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
INSERT OR IGNORE INTO published_names (root_id, name)
    WITH RECURSIVE tree(id, root_id) AS (
        SELECT id, id FROM namespaces WHERE parent_id IS NULL
        UNION ALL
        SELECT n.id, tree.root_id FROM namespaces n JOIN tree ON n.parent_id = tree.id
    )
    SELECT tree.root_id, p.name
    FROM packages p JOIN projects pr ON pr.id = p.project_id JOIN tree ON tree.id = pr.namespace_id;

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
