-- Step 9: when each file entered its top-level namespace (its root). A group's index serves,
-- for a filename held by several of its projects, the file that entered the root first; the
-- upload time (`created_at`) cannot decide that, because it travels with a transferred
-- project and an import may backdate it, which let a file moved in later take over a filename
-- the index already served. Existing rows keep the order they are served in today.
ALTER TABLE package_files ADD COLUMN entered_root_at INTEGER NOT NULL DEFAULT 0;
UPDATE package_files SET entered_root_at = created_at;
CREATE INDEX package_files_entered_root ON package_files(entered_root_at);
