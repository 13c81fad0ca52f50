/*---
name: duplicates
description: "Duplicate keys in the table (optionally only recent rows): how many keys repeat, and the worst offenders by fingerprint."
params:
  table: {type: TABLE, description: "the table, project.dataset.table"}
  key: {type: STRING, names: columns, description: "the key field, or several separated by commas for a composite key (nested: parent.child)"}
  timestamp_column: {type: STRING, default: "", description: "event/load time column to check only recent rows; empty = whole table"}
  days: {type: INT64, default: 3, description: "with timestamp_column, only rows from the last N days"}
  show_keys: {type: BOOL, default: false, description: "also return the raw key values (leave off if the key may be personal data)"}
  top_n: {type: INT64, default: 20, description: "how many duplicated keys to list"}
max_rows: 21
---*/
-- Key fields are read with JSON_QUERY over TO_JSON_STRING(t) (never as
-- identifiers); JSON_QUERY keeps types apart, so 1 and "1" are different keys.
-- No sampling here: a sample would miss most duplicate pairs. TO_JSON_STRING
-- reads every column, so on a very large table set timestamp_column and days.
-- Keys are shown as a short SHA-256 fingerprint by default so that customer
-- identifiers do not end up in Slack; set show_keys only for technical ids.
WITH rows_json AS (
  SELECT TO_JSON_STRING(t) AS j
  FROM `@table` AS t
),
keyed AS (
  SELECT
    -- Composite key: the JSON text of each part, joined with a separator
    -- that cannot appear unescaped inside JSON text.
    ARRAY_TO_STRING(
      ARRAY(
        -- The paths are built first (a column, not a CONCAT inside JSON_QUERY): same on BigQuery, and the
        -- sandbox warehouse reads JSON paths only that way.
        SELECT IFNULL(JSON_QUERY(j, path), 'null')
        FROM UNNEST(ARRAY(SELECT CONCAT('$.', TRIM(p)) FROM UNNEST(SPLIT(@key, ',')) AS p)) AS path WITH OFFSET AS pos
        ORDER BY pos
      ), '\u0001') AS key_value
  FROM rows_json
  WHERE @timestamp_column = ''
    OR COALESCE(
         SAFE_CAST(JSON_VALUE(j, CONCAT('$.', COALESCE(NULLIF(@timestamp_column, ''), '__none__'))) AS TIMESTAMP),
         SAFE_CAST(REPLACE(REPLACE(
           JSON_VALUE(j, CONCAT('$.', COALESCE(NULLIF(@timestamp_column, ''), '__none__'))),
           'T', ' '), 'Z', '+00:00') AS TIMESTAMP)
       ) >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL @days DAY)
),
per_key AS (
  SELECT key_value, COUNT(*) AS copies
  FROM keyed
  GROUP BY key_value
),
summary AS (
  SELECT
    SUM(copies) AS rows_checked,
    COUNT(*) AS distinct_keys,
    COUNTIF(copies > 1) AS duplicated_keys,
    SUM(IF(copies > 1, copies - 1, 0)) AS surplus_rows
  FROM per_key
)
-- First row: the totals (n = 0), so the answer is readable even with no duplicates.
SELECT
  0 AS n,
  CAST(NULL AS STRING) AS key_fingerprint,
  CAST(NULL AS STRING) AS key_value,
  CAST(NULL AS INT64) AS copies,
  rows_checked,
  distinct_keys,
  duplicated_keys,
  surplus_rows
FROM summary

UNION ALL

SELECT * FROM (
  SELECT
    ROW_NUMBER() OVER (ORDER BY copies DESC, key_value) AS n,
    SUBSTR(TO_HEX(SHA256(key_value)), 1, 16) AS key_fingerprint,
    IF(@show_keys, REPLACE(key_value, '\u0001', ' | '), NULL) AS key_value,
    copies,
    CAST(NULL AS INT64) AS rows_checked,
    CAST(NULL AS INT64) AS distinct_keys,
    CAST(NULL AS INT64) AS duplicated_keys,
    CAST(NULL AS INT64) AS surplus_rows
  FROM per_key
  WHERE copies > 1
  ORDER BY copies DESC, key_value
  LIMIT @top_n
)
ORDER BY n
