/*---
name: distribution
description: "Top values of one field in the last day against the previous N days (share of rows, change in share), including NULL."
params:
  table: {type: TABLE, description: "the table, project.dataset.table"}
  column: {type: STRING, description: "the field to profile; a nested field as parent.child"}
  timestamp_column: {type: STRING, default: "", description: "event/load time column splitting recent from baseline rows; empty = profile the sample as a whole"}
  days: {type: INT64, default: 7, description: "baseline window in days before the most recent day"}
  sample_percent: {type: INT64, default: 10, description: "TABLESAMPLE percentage (storage blocks read); 100 for small tables"}
  top_n: {type: INT64, default: 25, description: "how many values to return"}
max_rows: 50
---*/
-- The field is read with JSON_VALUE over TO_JSON_STRING(t), never as an
-- identifier, so a user-supplied name cannot change the query. Made for
-- categorical / dimension fields (country, status, source system); for a
-- numeric field the top values still show a default or sentinel value taking over.
-- Cost: TO_JSON_STRING reads every column and cannot prune partitions, so the
-- scan is bounded with TABLESAMPLE. Shares are estimates from the sample.
-- Output holds real field values; the bot withholds them when the field is
-- personal data (docs/RELIABILITY.md, "No PII in Slack").
WITH sampled AS (
  SELECT
    -- JSON_VALUE gives NULL for JSON null and for structs/arrays (non-scalars).
    JSON_VALUE(j, CONCAT('$.', @column)) AS value,
    COALESCE(
      SAFE_CAST(JSON_VALUE(j, CONCAT('$.', COALESCE(NULLIF(@timestamp_column, ''), '__none__'))) AS TIMESTAMP),
      SAFE_CAST(REPLACE(REPLACE(
        JSON_VALUE(j, CONCAT('$.', COALESCE(NULLIF(@timestamp_column, ''), '__none__'))),
        'T', ' '), 'Z', '+00:00') AS TIMESTAMP)
    ) AS ts
  FROM (
    SELECT TO_JSON_STRING(t) AS j
    FROM `@table` AS t TABLESAMPLE SYSTEM (@sample_percent PERCENT)
  )
),
labelled AS (
  SELECT
    value,
    CASE
      -- No timestamp column: everything is "recent", there is no baseline.
      WHEN @timestamp_column = '' THEN 'recent'
      WHEN ts >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 1 DAY) THEN 'recent'
      WHEN ts >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL @days + 1 DAY) THEN 'baseline'
    END AS period
  FROM sampled
),
counts AS (
  SELECT
    value,
    COUNTIF(period = 'recent') AS recent_rows,
    COUNTIF(period = 'baseline') AS baseline_rows
  FROM labelled
  WHERE period IS NOT NULL
  GROUP BY value
),
shares AS (
  SELECT
    value,
    recent_rows,
    baseline_rows,
    100 * SAFE_DIVIDE(recent_rows, SUM(recent_rows) OVER ()) AS recent_pct,
    100 * SAFE_DIVIDE(baseline_rows, SUM(baseline_rows) OVER ()) AS baseline_pct
  FROM counts
)
SELECT
  IFNULL(value, '(null)') AS value,
  recent_rows,
  ROUND(recent_pct, 2) AS recent_pct,
  baseline_rows,
  ROUND(baseline_pct, 2) AS baseline_pct,
  -- Percentage points gained (+) or lost (-) against the baseline;
  -- a value new today or gone today shows the whole share as the change.
  ROUND(IFNULL(recent_pct, 0) - IFNULL(baseline_pct, 0), 2) AS share_change_pts
FROM shares
-- Biggest movers first; without a baseline this is simply the most frequent values.
ORDER BY ABS(IFNULL(recent_pct, 0) - IFNULL(baseline_pct, 0)) DESC, recent_rows DESC
LIMIT @top_n
