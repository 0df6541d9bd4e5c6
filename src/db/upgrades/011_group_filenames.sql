-- Step 11: the bytes each group index serves under a filename, recorded for good (see
-- schema.sql), so that deleting, replacing or moving out the served file never lets a
-- sibling's other bytes take the filename over. Filled with what each group serves today: of
-- the files below it sharing a filename, the one that entered the root first.
CREATE TABLE group_filenames (
    group_id  INTEGER NOT NULL REFERENCES namespaces(id) ON DELETE CASCADE,
    filename  TEXT NOT NULL,
    sha256    TEXT NOT NULL,
    PRIMARY KEY (group_id, filename)
) WITHOUT ROWID;
WITH RECURSIVE above(project_id, namespace_id) AS (
    SELECT id, namespace_id FROM projects
    UNION ALL
    SELECT above.project_id, n.parent_id FROM above JOIN namespaces n ON n.id = above.namespace_id
    WHERE n.parent_id IS NOT NULL
)
INSERT OR IGNORE INTO group_filenames (group_id, filename, sha256)
SELECT above.namespace_id, f.filename, f.sha256
FROM package_files f
JOIN above ON above.project_id = f.project_id
JOIN namespaces g ON g.id = above.namespace_id AND g.kind = 'group'
ORDER BY f.entered_root_at, f.id;
