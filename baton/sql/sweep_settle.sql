-- Settles steps whose job is gone or final but which never settled, with the trigger's
-- code. A job is the step's own only when its meta names the step: a job that reuses the
-- id of a step's deleted job (ids restart after a truncation) leaves the step
-- 'deleted'. MATERIALIZED so that the settlement runs for every row found.
WITH settled AS MATERIALIZED (
SELECT m.workflow_id,
       m.name,
       m.state,
       {prefix}.baton_settle_step(m.job_id, m.workflow_id, m.name, m.state, m.worker, m.queue,
                                   m.attempt, m.errors, p_job_deleted => m.state = 'deleted') AS first
  FROM (
      SELECT s.workflow_id,
             s.name,
             s.job_id,
             CASE WHEN j.id IS NULL THEN 'deleted' ELSE j.state::text END AS state,
             coalesce(j.worker, s.worker) AS worker,
             coalesce(j.queue, '') AS queue,
             coalesce(j.attempt, 0)::integer AS attempt,
             coalesce(j.errors, '[]'::jsonb) AS errors
        FROM {prefix}.baton_workflows w
        JOIN {prefix}.baton_steps s ON s.workflow_id = w.id
        LEFT JOIN {prefix}.oban_jobs j
          ON j.id = s.job_id AND j.meta->>'workflow_id' = s.workflow_id
           AND j.meta->>'workflow_step' = s.name
       WHERE w.finished_at IS NULL
         AND s.outcome IS NULL
         AND (j.id IS NULL OR j.state IN ('completed', 'cancelled', 'discarded'))
       ORDER BY s.workflow_id, s.job_id
       LIMIT %(limit)s
  ) AS m
)
SELECT settled.workflow_id, settled.name, settled.state
  FROM settled
