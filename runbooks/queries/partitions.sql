/*---
name: partitions
description: "The newest partitions with row counts, size, last write time and the row change from the previous partition."
params:
  table: {type: TABLE, description: "the table, project.dataset.table"}
  max_partitions: {type: INT64, default: 30, description: "how many of the newest partitions to show"}
max_rows: 50
---*/
-- Metadata only (INFORMATION_SCHEMA.PARTITIONS), no table scan.
-- Useful to spot a missing partition (gap in partition_id), an empty or
-- half-loaded partition (rows far below the previous one), or an old partition
-- rewritten recently (last_modified_time much newer than its neighbours).
WITH p AS (
  SELECT
    partition_id,
    total_rows,
    total_logical_bytes,
    last_modified_time,
    storage_tier
  FROM `@dataset`.INFORMATION_SCHEMA.PARTITIONS
  WHERE table_name = @table_name
)
SELECT
  partition_id,
  total_rows,
  -- Change against the previous partition in id order (NULL for the oldest);
  -- the special ids are compared only among themselves, not with real partitions.
  total_rows - LAG(total_rows) OVER (
    PARTITION BY STARTS_WITH(partition_id, '__') ORDER BY partition_id
  ) AS rows_change_vs_previous,
  ROUND(SAFE_DIVIDE(total_logical_bytes, POW(1024, 3)), 3) AS logical_gib,
  last_modified_time,
  TIMESTAMP_DIFF(CURRENT_TIMESTAMP(), last_modified_time, MINUTE) AS minutes_since_write,
  storage_tier
FROM p
-- Special ids (__NULL__, __UNPARTITIONED__) sort after digits; they are kept on
-- purpose: __UNPARTITIONED__ is the streaming buffer, __NULL__ rows lack a partition value.
ORDER BY partition_id DESC
LIMIT @max_partitions
