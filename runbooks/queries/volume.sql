/*---
name: volume
description: "Rows per day for the last N days (from partition metadata), with each day's deviation from the trailing baseline."
params:
  table: {type: TABLE, description: "the table, project.dataset.table"}
  days: {type: INT64, default: 14, description: "days of history"}
max_rows: 31
---*/
-- Metadata only: total_rows per partition from INFORMATION_SCHEMA.PARTITIONS, so
-- the check costs nothing however large the table is. Hourly, monthly and
-- yearly partitions are rolled up to the day they start on. For an unpartitioned
-- table there is no per-day history: one row with the whole table's count is
-- returned instead (day NULL), which still shows a truncate or a doubled load.
-- Integer-range partition ids do not parse as dates, so such tables return no
-- daily rows: use the partitions query for them.
WITH parts AS (
  SELECT
    partition_id,
    total_rows,
    last_modified_time,
    CASE LENGTH(partition_id)
      -- IF on a digits check rather than SAFE.PARSE_DATE: the same result, and it also runs on the sandbox
      -- warehouse (docs/BIGQUERY_SANDBOX.md); BigQuery evaluates only the branch IF picks.
      WHEN 8 THEN IF(REGEXP_CONTAINS(partition_id, r'^[0-9]{8}$'), PARSE_DATE('%Y%m%d', partition_id), NULL)
      WHEN 10 THEN IF(REGEXP_CONTAINS(partition_id, r'^[0-9]{10}$'),
                      PARSE_DATE('%Y%m%d', SUBSTR(partition_id, 1, 8)), NULL)
      WHEN 6 THEN IF(REGEXP_CONTAINS(partition_id, r'^[0-9]{6}$'), PARSE_DATE('%Y%m%d', CONCAT(partition_id, '01')), NULL)
      WHEN 4 THEN IF(REGEXP_CONTAINS(partition_id, r'^[0-9]{4}$'),
                     PARSE_DATE('%Y%m%d', CONCAT(partition_id, '0101')), NULL)
    END AS day
  FROM `@dataset`.INFORMATION_SCHEMA.PARTITIONS
  WHERE table_name = @table_name
),
daily AS (
  SELECT
    day,
    SUM(total_rows) AS row_count,
    MAX(last_modified_time) AS last_modified_time
  FROM parts
  WHERE DATE_DIFF(CURRENT_DATE(), day, DAY) <= @days
  GROUP BY day
),
scored AS (
  SELECT
    day,
    row_count,
    last_modified_time,
    -- Baseline = all earlier days in the window (the window is already @days long).
    AVG(row_count) OVER w AS baseline_avg,
    STDDEV_SAMP(row_count) OVER w AS baseline_stddev
  FROM daily
  WINDOW w AS (ORDER BY day ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
)
SELECT
  day,
  row_count,
  CAST(ROUND(baseline_avg) AS INT64) AS baseline_avg,
  ROUND(100 * SAFE_DIVIDE(row_count - baseline_avg, baseline_avg), 1) AS pct_vs_baseline,
  ROUND(SAFE_DIVIDE(row_count - baseline_avg, baseline_stddev), 2) AS z_score,
  -- Today's partition is normally still filling: read a low count there with care.
  day = CURRENT_DATE() AS is_partial_day,
  last_modified_time
FROM scored

UNION ALL

-- Unpartitioned table: one row with the whole table's current row count.
SELECT
  CAST(NULL AS DATE) AS day,
  total_rows AS row_count,
  CAST(NULL AS INT64) AS baseline_avg,
  CAST(NULL AS FLOAT64) AS pct_vs_baseline,
  CAST(NULL AS FLOAT64) AS z_score,
  CAST(NULL AS BOOL) AS is_partial_day,
  last_modified_time
FROM `@dataset`.INFORMATION_SCHEMA.PARTITIONS
WHERE table_name = @table_name
  AND (partition_id IS NULL OR partition_id = '__NULL__')

-- Newest first, so a max_rows cut drops the oldest history, not today.
ORDER BY day DESC
