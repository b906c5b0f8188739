SELECT s.name,
       CASE WHEN s.outcome = 'skipped' THEN 'skipped'
            WHEN j.id IS NULL THEN coalesce(s.outcome, 'deleted') ELSE j.state::text END AS state,
       s.worker,
       j.attempt,
       j.max_attempts,
       s.deps,
       s.group_name AS "group",
       j.inserted_at,
       j.attempted_at,
       j.scheduled_at,
       s.settled_at,
       {prefix}.baton_last_error(j.errors) AS error,
       j.errors -> -1 ->> 'error' AS traceback,
       (j.errors -> -1 ->> 'at')::timestamptz AT TIME ZONE 'UTC' AS errored_at,
       s.performed_at IS NOT NULL AS result_stored,
       s.usage,
       s.model,
       coalesce(j.queue, '') AS queue
  FROM {prefix}.baton_steps s
  LEFT JOIN {prefix}.oban_jobs j
    ON j.id = s.job_id AND j.meta->>'workflow_id' = s.workflow_id
     AND j.meta->>'workflow_step' = s.name
 WHERE s.workflow_id = %(workflow_id)s
 ORDER BY s.job_id
