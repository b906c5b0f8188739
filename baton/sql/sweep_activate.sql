WITH stuck AS (
    SELECT s.workflow_id, s.name, j.id, s.blocked > 0 AND NOT (s.gated AND s.callbacks) AS doomed
      FROM {prefix}.baton_workflows w
      JOIN {prefix}.baton_steps s ON s.workflow_id = w.id
      JOIN {prefix}.oban_jobs j ON j.id = s.job_id
     WHERE w.finished_at IS NULL
       AND s.outcome IS NULL
       AND s.pending = 0
       AND j.state = 'suspended'
     ORDER BY j.id
     LIMIT %(limit)s
       FOR UPDATE OF j
),
moved AS (
    UPDATE {prefix}.oban_jobs j
       SET state = CASE
               WHEN stuck.doomed THEN 'cancelled'::{prefix}.oban_job_state
               WHEN j.scheduled_at > timezone('UTC', now()) THEN 'scheduled'::{prefix}.oban_job_state
               ELSE 'available'::{prefix}.oban_job_state
           END,
           cancelled_at = CASE WHEN stuck.doomed THEN timezone('UTC', now()) END,
           errors = CASE
               WHEN stuck.doomed THEN j.errors || jsonb_build_array(jsonb_build_object(
                   'attempt', j.attempt,
                   'at', to_char(timezone('UTC', now()), 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'),
                   'error', 'cancelled by the Baton sweep: dependencies did not complete'))
               ELSE j.errors
           END
      FROM stuck
     WHERE j.id = stuck.id
    RETURNING stuck.workflow_id, stuck.name, j.state::text AS state, j.queue
),
-- one insert notification per queue that got available jobs
notified AS (
    SELECT count(pg_notify(%(channel)s, json_build_object('queue', q.queue)::text))
      FROM (SELECT DISTINCT m.queue FROM moved m WHERE m.state = 'available') AS q
)
SELECT moved.workflow_id, moved.name, moved.state
  FROM moved
 CROSS JOIN notified
