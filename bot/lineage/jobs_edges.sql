-- Lineage edges from BigQuery's job history: each referenced table -> the job's destination table.
-- DISTINCT: a scheduled job repeats the same edge every run; one row per edge is enough.
-- creation_time is the view's partitioning column, so the day filter bounds the bytes read.
SELECT DISTINCT
  ref.project_id AS src_project, ref.dataset_id AS src_dataset, ref.table_id AS src_table,
  destination_table.project_id AS dst_project, destination_table.dataset_id AS dst_dataset,
  destination_table.table_id AS dst_table
FROM `{region}`.INFORMATION_SCHEMA.JOBS, UNNEST(referenced_tables) AS ref
WHERE creation_time >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL {days} DAY)
  AND job_type = 'QUERY' AND state = 'DONE' AND error_result IS NULL
  AND destination_table.table_id IS NOT NULL
