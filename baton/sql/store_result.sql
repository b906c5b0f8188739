-- Record that a step performed, with its result and usage, unless an earlier attempt did
-- (`already`), or `unless_cancelled` is set and the workflow was cancelled (`refused`: an
-- interruptible step stores nothing once its workflow's cancel is committed). The step is
-- the one the job's meta names, and only if it recorded this job. `skips` (branches) are the
-- dependents the result skips, applied when the step settles completed.
WITH me AS (
    SELECT s.workflow_id,
           s.name,
           s.performed_at IS NOT NULL AS performed,
           %(unless_cancelled)s AND w.cancelled_at IS NOT NULL AS refused
      FROM {prefix}.baton_steps s
      JOIN {prefix}.baton_workflows w ON w.id = s.workflow_id
     WHERE s.workflow_id = %(workflow_id)s AND s.name = %(step)s AND s.job_id = %(job_id)s
),
stored AS (
    UPDATE {prefix}.baton_steps s
       SET performed_at = timezone('UTC', now()),
           performed_attempt = %(attempt)s,
           result = %(result)s::jsonb,
           usage = %(usage)s::jsonb,
           skips = %(skips)s::text[]
      FROM me
     WHERE s.workflow_id = me.workflow_id AND s.name = me.name AND s.job_id = %(job_id)s
       AND NOT me.performed
       AND NOT me.refused
       AND s.performed_at IS NULL
 RETURNING s.job_id
)
SELECT CASE
           WHEN EXISTS (SELECT FROM stored) THEN 'stored'
           WHEN (SELECT refused AND NOT performed FROM me) THEN 'refused'
           ELSE 'already'
       END AS outcome
