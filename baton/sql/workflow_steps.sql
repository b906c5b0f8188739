SELECT s.name,
       CASE WHEN s.outcome = 'skipped' THEN 'skipped'
            WHEN j.id IS NULL THEN coalesce(s.outcome, 'deleted')
            -- signals: a ready signal step with no signal yet waits for one
            WHEN s.signal AND s.signalled_at IS NULL AND s.outcome IS NULL AND s.pending = 0
                 AND s.blocked = 0 AND j.state::text IN ('suspended', 'scheduled')
            THEN 'awaiting_signal'
            ELSE j.state::text END AS state,
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
       coalesce(j.queue, '') AS queue,
       s.signal,
       s.signalled_at,
       s.signal_due_at
  FROM {prefix}.baton_steps s
  LEFT JOIN {prefix}.oban_jobs j
    ON j.id = s.job_id AND j.meta->>'workflow_id' = s.workflow_id
     AND j.meta->>'workflow_step' = s.name
 WHERE s.workflow_id = %(workflow_id)s
 ORDER BY s.job_id
