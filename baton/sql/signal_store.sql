-- Stores a signal's payload on its step, under the workflow's row lock (taken by
-- lock_workflow.sql), the first time only. When the step waits for it (%(ready)s: its deps
-- all settled and none blocks it; its job suspended, or scheduled for the end of its
-- wait), the signal completes the step in this transaction: the payload is stored as its
-- result (%(result)s: none for no payload, as a step returning None) and its job marked completed, whose settlement at commit (the deferred trigger)
-- activates the dependents and wakes their queues, as for any completed step. Otherwise the
-- payload waits: the settlement that makes the step ready makes its job available, and
-- Baton's signal worker completes it with the payload (also when its job was already
-- available at the end of its wait). Broadcasts the step's `signalled` event. Returns when
-- the signal was stored and whether it completed the step; no row when the step was
-- signalled already.
WITH completed AS (
    -- state::text, not state: by primary key only (as the settlement's promotion)
    UPDATE {prefix}.oban_jobs j
       SET state = 'completed'::{prefix}.oban_job_state,
           completed_at = timezone('UTC', now())
      FROM {prefix}.baton_steps s
     WHERE %(ready)s
       AND s.workflow_id = %(workflow_id)s AND s.name = %(step)s AND s.signal
       AND s.signalled_at IS NULL AND s.signal_expired_at IS NULL AND s.performed_at IS NULL
       AND j.id = s.job_id AND j.state::text IN ('suspended', 'scheduled')
       AND j.meta->>'workflow_id' = s.workflow_id
       AND j.meta->>'workflow_step' = s.name
    RETURNING j.id
),
stored AS (
    UPDATE {prefix}.baton_steps s
       SET signal_payload = %(payload)s::jsonb,
           signalled_at = timezone('UTC', now()),
           performed_at = CASE WHEN EXISTS (SELECT FROM completed)
                               THEN timezone('UTC', now()) END,
           performed_attempt = CASE WHEN EXISTS (SELECT FROM completed) THEN 0 END,
           result = CASE WHEN EXISTS (SELECT FROM completed) THEN %(result)s::jsonb END
     WHERE s.workflow_id = %(workflow_id)s AND s.name = %(step)s AND s.signal
       AND s.signalled_at IS NULL AND s.signal_expired_at IS NULL AND s.performed_at IS NULL
    RETURNING s.workflow_id, s.name, s.job_id, s.worker, s.signalled_at
),
sent AS (
    SELECT count({prefix}.baton_notify_step(
               stored.workflow_id, %(workflow_name)s, stored.name, stored.worker, 'signalled',
               stored.job_id, 0, EXISTS (SELECT FROM completed), false, NULL)) AS n
      FROM stored
)
SELECT stored.signalled_at, EXISTS (SELECT FROM completed) AS started
  FROM stored
 CROSS JOIN sent
