-- Stores a signal's payload on its step, under the workflow's row lock, the first time only.
-- When the step is ready (%(ready)s: its deps all settled and none blocks it), its waiting
-- job (suspended, or scheduled for the end of its wait) becomes available at once and its
-- queue is woken; otherwise the payload waits for the settlement that makes the step ready.
-- Broadcasts the step's `signalled` event. Returns when the signal was stored and whether
-- the job was made available; no row when the step was signalled already.
WITH stored AS (
    UPDATE {prefix}.baton_steps s
       SET signal_payload = %(payload)s::jsonb, signalled_at = timezone('UTC', now())
     WHERE s.workflow_id = %(workflow_id)s AND s.name = %(step)s AND s.signal
       AND s.signalled_at IS NULL AND s.signal_expired_at IS NULL
    RETURNING s.workflow_id, s.name, s.job_id, s.worker, s.signalled_at
),
promoted AS (
    -- state::text, not state: by primary key only (as the settlement's promotion)
    UPDATE {prefix}.oban_jobs j
       SET state = 'available'::{prefix}.oban_job_state,
           scheduled_at = timezone('UTC', now())
      FROM stored
     WHERE %(ready)s
       AND j.id = stored.job_id AND j.state::text IN ('suspended', 'scheduled')
       AND j.meta->>'workflow_id' = stored.workflow_id
       AND j.meta->>'workflow_step' = stored.name
    RETURNING j.queue
),
woken AS (
    SELECT count(pg_notify(%(channel)s, json_build_object('queue', p.queue)::text)) AS n
      FROM promoted p
),
sent AS (
    SELECT count({prefix}.baton_notify_step(
               stored.workflow_id, %(workflow_name)s, stored.name, stored.worker, 'signalled',
               stored.job_id, 0, false, false, NULL)) AS n
      FROM stored
)
SELECT stored.signalled_at, woken.n > 0 AS started
  FROM stored
 CROSS JOIN woken
 CROSS JOIN sent
