SELECT w.id,
       w.name,
       CASE WHEN w.cancelled_at IS NOT NULL AND w.reason IS NULL THEN 'cancelled' ELSE coalesce(w.outcome, 'running') END
           AS state,
       w.step_count,
       w.step_count - w.unsettled AS settled_steps,
       steps.completed AS completed_steps,
       steps.cost_usd,
       w.inserted_at,
       w.finished_at
  FROM {prefix}.baton_workflows w
 CROSS JOIN LATERAL (
       SELECT count(*) FILTER (WHERE s.outcome = 'completed') AS completed,
              sum((s.usage ->> 'cost_usd')::numeric) AS cost_usd
         FROM {prefix}.baton_steps s
        WHERE s.workflow_id = w.id
       ) steps
 WHERE %(state)s::text IS NULL
    OR CASE WHEN w.cancelled_at IS NOT NULL AND w.reason IS NULL THEN 'cancelled' ELSE coalesce(w.outcome, 'running') END
       = %(state)s::text
 ORDER BY w.inserted_at DESC, w.id
 LIMIT %(limit)s
