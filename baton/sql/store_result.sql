-- Record that a step performed, with its result and usage, unless an earlier attempt did
-- (`already`), or `unless_cancelled` is set and the workflow was cancelled (`refused`: an
-- interruptible step stores nothing once its workflow's cancel is committed). The step is
-- the one the job's meta names, and only if it recorded this job. `skips` (branches) are the
-- dependents the result skips, applied when the step settles completed.
-- the one the job's meta names, and only if it recorded this job. A stored usage is also
-- copied to the usage table that the usage reports read (the `recorded` CTE).
WITH me AS (
    SELECT s.workflow_id,
           s.name,
           w.name AS workflow_name,
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
),
recorded AS (
    INSERT INTO {prefix}.baton_usage
        (workflow_id, step, workflow_name, model, input_tokens, output_tokens,
         cache_read_tokens, cache_write_tokens, latency_ms, cost_usd)
    SELECT me.workflow_id, me.name, me.workflow_name, u.usage->>'model',
           coalesce((u.usage->>'input_tokens')::bigint, 0),
           coalesce((u.usage->>'output_tokens')::bigint, 0),
           coalesce((u.usage->>'cache_read_tokens')::bigint, 0),
           coalesce((u.usage->>'cache_write_tokens')::bigint, 0),
           (u.usage->>'latency_ms')::double precision,
           (u.usage->>'cost_usd')::numeric
      FROM me
     CROSS JOIN (SELECT %(usage)s::jsonb AS usage) AS u
     WHERE EXISTS (SELECT FROM stored) AND u.usage IS NOT NULL
)
SELECT CASE
           WHEN EXISTS (SELECT FROM stored) THEN 'stored'
           WHEN (SELECT refused AND NOT performed FROM me) THEN 'refused'
           ELSE 'already'
       END AS outcome
