/*---
name: failed_jobs
description: "BigQuery jobs that failed in the last N hours while writing to the table (or reading it), newest first, with the error."
params:
  table: {type: TABLE, description: "the table, project.dataset.table"}
  hours: {type: INT64, default: 24, description: "look-back window in hours"}
max_rows: 25
---*/
-- JOBS (= JOBS_BY_PROJECT) lists jobs run in the project the bot queries from,
-- in one region. Jobs run from another project (e.g. a pipeline's own project)
-- are only visible there: if this comes back empty, check that project too.
-- Filtering on creation_time first lets BigQuery prune the view's partitions.
SELECT
  creation_time,
  job_id,
  -- writes: the job loads/merges into the table; reads: the table is an input.
  IF(
    destination_table.project_id = @table_project
      AND destination_table.dataset_id = @table_dataset
      AND destination_table.table_id = @table_name,
    'writes', 'reads') AS relation,
  job_type,
  statement_type,
  user_email,
  error_result.reason AS error_reason,
  -- Error text is truncated so one job cannot flood the Slack message.
  LEFT(error_result.message, 300) AS error_message,
  TIMESTAMP_DIFF(end_time, start_time, SECOND) AS run_seconds,
  total_slot_ms,
  -- Orchestrators (Composer/Airflow, Dataform, dbt) usually set job labels
  -- naming the DAG / task, which points at the failing pipeline step.
  (SELECT STRING_AGG(CONCAT(l.key, '=', l.value), ', ') FROM UNNEST(labels) AS l) AS job_labels
FROM `@region`.INFORMATION_SCHEMA.JOBS
WHERE creation_time >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL @hours HOUR)
  AND error_result IS NOT NULL
  AND (
    (destination_table.project_id = @table_project
      AND destination_table.dataset_id = @table_dataset
      AND destination_table.table_id = @table_name)
    OR EXISTS (
      SELECT 1
      FROM UNNEST(referenced_tables) AS r
      WHERE r.project_id = @table_project
        AND r.dataset_id = @table_dataset
        AND r.table_id = @table_name
    )
  )
ORDER BY creation_time DESC
