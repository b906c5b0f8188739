WITH retried AS (
    UPDATE {prefix}.oban_jobs j
       SET state = CASE
               WHEN s.pending > 0 THEN 'suspended'::{prefix}.oban_job_state
               ELSE 'available'::{prefix}.oban_job_state
           END,
           max_attempts = greatest(j.max_attempts, j.attempt + 1),
           scheduled_at = timezone('UTC', now()),
           completed_at = NULL,
           cancelled_at = NULL,
           discarded_at = NULL
      FROM {prefix}.baton_steps s
     WHERE s.workflow_id = %(workflow_id)s
       AND s.name = ANY(%(names)s)
       AND j.id = s.job_id
       AND j.meta->>'workflow_id' = s.workflow_id
       AND j.meta->>'workflow_step' = s.name
    RETURNING j.queue, j.state
)
SELECT count(pg_notify(%(channel)s, json_build_object('queue', q.queue)::text))
  FROM (SELECT DISTINCT queue FROM retried WHERE state = 'available') AS q
