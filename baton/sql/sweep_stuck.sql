-- Suspended steps of unfinished workflows whose deps have all settled, locked: the sweep
-- activates them, or cancels (through the settlement's own cancel function) those whose
-- deps did not complete and that have no on_dep_* callback to run.
SELECT s.workflow_id,
       s.name,
       j.id AS job_id,
       s.blocked > 0 AND NOT (s.gated AND s.callbacks) AS doomed
  FROM {prefix}.baton_workflows w
  JOIN {prefix}.baton_steps s ON s.workflow_id = w.id
  JOIN {prefix}.oban_jobs j
    ON j.id = s.job_id
   AND j.meta->>'workflow_id' = s.workflow_id
   AND j.meta->>'workflow_step' = s.name
 WHERE w.finished_at IS NULL
   AND s.outcome IS NULL
   AND s.pending = 0
   AND j.state = 'suspended'
   -- a ready signal step with no signal yet waits for one: it is not stuck
   AND NOT (s.signal AND s.signalled_at IS NULL AND s.blocked = 0)
 ORDER BY j.id
 LIMIT %(limit)s
   FOR UPDATE OF j
