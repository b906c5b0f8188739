-- The signal worker's read of its step, after lock_workflow.sql took the workflow's row
-- lock (the lock baton.signal holds while it stores a payload), so a signal and the end of
-- the wait cannot cross: either the payload is here, or, for a step with a timeout, the
-- wait is marked expired now and a later signal is refused. The job of a step with a
-- timeout runs without a signal only once its wait is over: the stager made it available
-- at the end of the wait (or a test's drain ran the scheduled job at once, as time
-- passing). No row: not this job's signal step.
UPDATE {prefix}.baton_steps s
   SET signal_expired_at = CASE
           WHEN s.signalled_at IS NULL AND s.signal_timeout IS NOT NULL
           THEN coalesce(s.signal_expired_at, timezone('UTC', now()))
           ELSE s.signal_expired_at
       END
 WHERE s.workflow_id = %(workflow_id)s AND s.name = %(step)s AND s.job_id = %(job_id)s
   AND s.signal
RETURNING s.signalled_at IS NOT NULL AS signalled,
          s.signal_payload AS payload,
          s.signal_timeout AS timeout
