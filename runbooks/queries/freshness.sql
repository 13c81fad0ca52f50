/*---
name: freshness
description: "When the table last changed (newest partition write), how stale that is, and whether it breaches the allowed age."
params:
  table: {type: TABLE, description: "the table, project.dataset.table"}
  max_age_minutes: {type: INT64, default: 1440, description: "allowed minutes since the last write before the table counts as stale"}
max_rows: 1
---*/
-- Freshness from metadata only: no scan of the table itself, so it is free and fast.
-- PARTITIONS.last_modified_time moves on every load, DML statement or streaming
-- commit; for an unpartitioned table the view has a single row (partition_id NULL).
-- __TABLES__ is not used (legacy, unavailable offline) and TABLE_STORAGE is
-- region-scoped, so it cannot be addressed through the dataset placeholder.
WITH tbl AS (
  -- TABLES gives one row even for views / external tables, which have no
  -- partitions; that keeps the result non-empty and shows why freshness is unknown.
  SELECT table_name, table_type, creation_time
  FROM `@dataset`.INFORMATION_SCHEMA.TABLES
  WHERE table_name = @table_name
),
parts AS (
  SELECT
    MAX(last_modified_time) AS last_modified_time,
    -- Newest real partition (skips the special __NULL__ / __UNPARTITIONED__ ids).
    MAX(IF(partition_id IN ('__NULL__', '__UNPARTITIONED__'), NULL, partition_id)) AS newest_partition_id,
    -- Rows still in the streaming buffer show up as partition __UNPARTITIONED__.
    SUM(IF(partition_id = '__UNPARTITIONED__', total_rows, 0)) AS streaming_buffer_rows,
    SUM(total_rows) AS total_rows,
    COUNT(*) AS partition_count
  FROM `@dataset`.INFORMATION_SCHEMA.PARTITIONS
  WHERE table_name = @table_name
)
SELECT
  tbl.table_name,
  tbl.table_type,
  tbl.creation_time,
  parts.last_modified_time,
  TIMESTAMP_DIFF(CURRENT_TIMESTAMP(), parts.last_modified_time, MINUTE) AS minutes_since_last_write,
  @max_age_minutes AS max_age_minutes,
  -- NULL (not FALSE) when there is no modification time: freshness is unknown.
  TIMESTAMP_DIFF(CURRENT_TIMESTAMP(), parts.last_modified_time, MINUTE) > @max_age_minutes AS is_stale,
  parts.newest_partition_id,
  parts.streaming_buffer_rows,
  parts.total_rows,
  parts.partition_count
FROM tbl
LEFT JOIN parts ON TRUE
