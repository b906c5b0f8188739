-- Makes the given suspended jobs available (or scheduled, when their time is to come), and
-- sends one insert notification per queue that got available jobs.
WITH moved AS (
    UPDATE {prefix}.oban_jobs j
       SET state = CASE
               WHEN j.scheduled_at > timezone('UTC', now()) THEN 'scheduled'::{prefix}.oban_job_state
               ELSE 'available'::{prefix}.oban_job_state
           END
     WHERE j.id = ANY(%(job_ids)s::bigint[])
       AND j.state = 'suspended'
    RETURNING j.id, j.state::text AS state, j.queue
),
notified AS (
    SELECT count(pg_notify(%(channel)s, json_build_object('queue', q.queue)::text))
      FROM (SELECT DISTINCT m.queue FROM moved m WHERE m.state = 'available') AS q
)
SELECT moved.id AS job_id, moved.state
  FROM moved
 CROSS JOIN notified
