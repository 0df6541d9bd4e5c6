-- Step 11: descriptions are stored to at most 2 MiB (registry::description::MAX_STORED_BYTES),
-- ended by the same note as an upload cut today, so that the Warehouse JSON never reads,
-- serializes or compresses more per request. The files' own metadata keeps every one whole.
-- SQLite cuts text by characters: the first pass keeps as many characters as 2 MiB holds at
-- the text's own average width; the second, for any still over (wide characters early on),
-- as many as 2 MiB holds at four bytes each.
UPDATE package_metadata
SET description = substr(description, 1,
        2090000 * length(description) / length(CAST(description AS BLOB)))
    || char(10) || char(10)
    || '[The description is too long to keep whole: only its beginning is kept here. '
    || 'The package file''s own metadata holds all of it.]' || char(10)
WHERE length(CAST(description AS BLOB)) > 2097152;
UPDATE package_metadata
SET description = substr(description, 1, 522000)
    || char(10) || char(10)
    || '[The description is too long to keep whole: only its beginning is kept here. '
    || 'The package file''s own metadata holds all of it.]' || char(10)
WHERE length(CAST(description AS BLOB)) > 2097152;
