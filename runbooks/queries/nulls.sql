/*---
name: nulls
description: "Null rate of every top-level column over a sample of recent rows, highest first."
params:
  table: {type: TABLE, description: "the table, project.dataset.table"}
  timestamp_column: {type: STRING, default: "", description: "event/load time column used to keep only recent rows; empty = no time filter"}
  days: {type: INT64, default: 1, description: "keep rows whose timestamp_column is within the last N days"}
  sample_percent: {type: INT64, default: 10, description: "TABLESAMPLE percentage (storage blocks read); 100 for small tables"}
  sample_rows: {type: INT64, default: 100000, description: "at most this many sampled rows are profiled"}
max_rows: 200
---*/
-- Column names cannot be identifiers here (the only identifiers are the
-- validated placeholders), so each row is turned into JSON with TO_JSON_STRING
-- and the column list comes from INFORMATION_SCHEMA.COLUMNS.
-- Cost: TO_JSON_STRING reads every column, and a time filter through JSON
-- cannot prune partitions, so TABLESAMPLE bounds the bytes read and
-- @sample_rows bounds the rows x columns work. Rates are estimates from the sample.
-- A column that is entirely NULL or missing from the JSON counts as null.
WITH cols AS (
  SELECT column_name, data_type, CONCAT('$.', column_name) AS path
  FROM `@dataset`.INFORMATION_SCHEMA.COLUMNS
  WHERE table_name = @table_name
    AND is_hidden = 'NO'
),
sampled AS (
  SELECT TO_JSON_STRING(t) AS j
  FROM `@table` AS t TABLESAMPLE SYSTEM (@sample_percent PERCENT)
),
recent AS (
  SELECT j
  FROM sampled
  -- With no timestamp_column every sampled row is kept. The path always points
  -- at something valid ('__none__' when empty) so the JSON path never errors.
  WHERE @timestamp_column = ''
    OR COALESCE(
         SAFE_CAST(JSON_VALUE(j, CONCAT('$.', COALESCE(NULLIF(@timestamp_column, ''), '__none__'))) AS TIMESTAMP),
         SAFE_CAST(REPLACE(REPLACE(
           JSON_VALUE(j, CONCAT('$.', COALESCE(NULLIF(@timestamp_column, ''), '__none__'))),
           'T', ' '), 'Z', '+00:00') AS TIMESTAMP)
       ) >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL @days DAY)
  LIMIT @sample_rows
),
total AS (
  SELECT COUNT(*) AS rows_profiled FROM recent
)
SELECT
  c.column_name,
  c.data_type,
  COUNT(r.j) AS rows_profiled,
  -- JSON_QUERY returns the JSON text 'null' for a NULL field (and SQL NULL when absent).
  COUNTIF(IFNULL(JSON_QUERY(r.j, c.path), 'null') = 'null') AS null_count,
  ROUND(100 * SAFE_DIVIDE(
    COUNTIF(IFNULL(JSON_QUERY(r.j, c.path), 'null') = 'null'),
    COUNT(r.j)), 2) AS null_pct,
  -- Empty strings and empty arrays are not NULL but are often the same bug.
  COUNTIF(JSON_QUERY(r.j, c.path) IN ('""', '[]')) AS empty_count
FROM cols AS c
CROSS JOIN recent AS r
GROUP BY c.column_name, c.data_type
-- Keep the profile visible even if the sample came back empty (0 rows).
UNION ALL
SELECT '(no rows sampled: raise sample_percent or widen days)', CAST(NULL AS STRING), 0,
  0, CAST(NULL AS FLOAT64), 0
FROM total
WHERE rows_profiled = 0
ORDER BY null_pct DESC, column_name
