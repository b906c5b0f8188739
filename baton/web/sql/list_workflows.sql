SELECT id, name, step_count, unsettled, inserted_at, finished_at,
       CASE WHEN cancelled_at IS NOT NULL THEN 'cancelled' ELSE coalesce(outcome, 'running') END
  FROM {prefix}.baton_workflows
 WHERE %(state)s::text IS NULL
    OR CASE WHEN cancelled_at IS NOT NULL THEN 'cancelled' ELSE coalesce(outcome, 'running') END
       = %(state)s::text
 ORDER BY inserted_at DESC, id
 LIMIT %(limit)s
