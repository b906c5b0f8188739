-- The signal worker's read of its step, after lock_workflow.sql took the workflow's row
-- lock (the lock baton.signal holds while it stores a payload), so a signal and the end of
-- the wait cannot cross: either the payload is here, or the wait is marked expired and a
-- later signal is refused. A step whose wait has no end yet (a retried step, a job run by
-- hand) gets one from now, if it has a timeout. No row: not this job's signal step.
UPDATE {prefix}.baton_steps s
   SET signal_expired_at = CASE
           WHEN s.signalled_at IS NULL AND s.signal_due_at <= timezone('UTC', now())
           THEN timezone('UTC', now())
           ELSE s.signal_expired_at
       END,
       signal_due_at = CASE
           WHEN s.signalled_at IS NULL AND s.signal_due_at IS NULL
           THEN timezone('UTC', now()) + make_interval(secs => s.signal_timeout)
           ELSE s.signal_due_at
       END
 WHERE s.workflow_id = %(workflow_id)s AND s.name = %(step)s AND s.job_id = %(job_id)s
   AND s.signal
RETURNING s.signalled_at IS NOT NULL AS signalled,
          s.signal_payload AS payload,
          s.signal_timeout AS timeout,
          s.signal_expired_at IS NOT NULL AS expired,
          extract(epoch FROM s.signal_due_at - timezone('UTC', now()))::float8 AS remaining
