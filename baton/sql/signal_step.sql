-- baton.signal's read of the step to signal, after lock_workflow.sql took the workflow's
-- row lock (so pending and blocked cannot change under it): the workflow's state and the
-- step's. No row: no such workflow; a row with a NULL step: no such step.
SELECT w.id AS workflow_id,
       w.name AS workflow_name,
       w.outcome,
       w.cancelled_at,
       s.name AS step,
       s.signal,
       s.signalled_at,
       s.signal_expired_at,
       s.signal_timeout,
       s.outcome AS step_outcome,
       s.pending,
       s.blocked,
       s.job_id,
       s.worker
  FROM {prefix}.baton_workflows w
  LEFT JOIN {prefix}.baton_steps s ON s.workflow_id = w.id AND s.name = %(step)s
 WHERE w.id = %(workflow_id)s
