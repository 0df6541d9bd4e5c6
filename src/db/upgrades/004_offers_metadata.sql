-- Step 4, PEP 643: whether a file's extracted metadata is offered as core metadata (PEP 658).
-- Wheels always; an sdist only when its PKG-INFO is static (`metadata::offered_as_core_metadata`).
-- Stored sdists start NULL (offered nothing) until the start-up housekeeping
-- (`manage::judge_stored_metadata`) reads their PKG-INFO and decides.
ALTER TABLE package_files ADD COLUMN offers_metadata INTEGER;
UPDATE package_files SET offers_metadata = 1 WHERE filetype = 'bdist_wheel';
CREATE INDEX package_files_unjudged ON package_files(id) WHERE offers_metadata IS NULL;
