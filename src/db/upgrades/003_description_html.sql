-- Step 3: a package's description is rendered once and kept, so that viewing a page never
-- renders (hostile Markdown can take minutes). Rows stored before this step are rendered at
-- their first view, outside any database connection, and stored then.
ALTER TABLE package_metadata ADD COLUMN description_html TEXT;
