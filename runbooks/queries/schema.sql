/*---
name: schema
description: "The table's current top-level columns (name, type, nullability, position); the bot diffs this against the last schema it saw."
params:
  table: {type: TABLE, description: "the table, project.dataset.table"}
max_rows: 10000
---*/
-- Metadata only, no table scan. Keep the column list stable: the bot compares
-- these rows with the previous snapshot to report added / removed / retyped columns.
-- data_type carries the full STRUCT<...> / ARRAY<...> type, so nested changes
-- show up as a type change of the top-level column.
SELECT
  column_name,
  data_type,
  is_nullable,
  ordinal_position
FROM `@dataset`.INFORMATION_SCHEMA.COLUMNS
WHERE table_name = @table_name
  -- Pseudo-columns such as _PARTITIONTIME are hidden and never change.
  AND is_hidden = 'NO'
ORDER BY ordinal_position
