-- The worker's read of its step before it runs; it also broadcasts the step's
-- `executing` event (the `sent` CTE, joined so that it runs once for the row found), except
-- for a skipped step, which its worker acks without running.
WITH me AS (
    SELECT s.workflow_id,
           s.name,
           s.performed_at IS NOT NULL AS performed,
           s.deps,
           s.ignore_cancelled,
           s.ignore_discarded,
           s.ignore_deleted,
           w.cancelled_at IS NOT NULL AS workflow_cancelled,
           w.reason AS workflow_reason,
           CASE WHEN s.pending > 0 OR s.blocked > 0 THEN (
               SELECT coalesce(jsonb_agg(jsonb_build_array(
                          d.name,
                          coalesce(d.outcome, CASE WHEN j.id IS NULL THEN 'deleted' END, 'pending')
                      ) ORDER BY d.name), '[]'::jsonb)
                 FROM {prefix}.baton_edges e
                 JOIN {prefix}.baton_steps d
                   ON d.workflow_id = e.workflow_id AND d.name = e.upstream
                 LEFT JOIN {prefix}.oban_jobs j
                   ON j.id = d.job_id AND j.meta->>'workflow_id' = d.workflow_id
                  AND j.meta->>'workflow_step' = d.name
                WHERE e.workflow_id = s.workflow_id AND e.downstream = s.name
           ) END AS upstream,
           w.name AS workflow_name,
           s.outcome IS NOT DISTINCT FROM 'skipped' AS skipped,
           w.traceparent,
           s.job_id,
           w.budget_usd IS NOT NULL OR w.budget_tokens IS NOT NULL AS budgeted,
           w.capture
      FROM {prefix}.baton_steps s
      JOIN {prefix}.baton_workflows w ON w.id = s.workflow_id
     WHERE s.workflow_id = %(workflow_id)s AND s.name = %(step)s AND s.job_id = %(job_id)s
),
sent AS (
    SELECT count({prefix}.baton_notify_step(
               me.workflow_id, me.workflow_name, me.name, %(worker)s, 'executing', me.job_id,
               %(attempt)s, me.performed, false, NULL))
      FROM me
     WHERE NOT me.skipped
)
SELECT me.workflow_id, me.name, me.performed, me.deps, me.ignore_cancelled,
       me.ignore_discarded, me.ignore_deleted, me.upstream, me.workflow_cancelled,
       me.workflow_reason, me.skipped, me.traceparent, me.budgeted, me.capture
  FROM me
 CROSS JOIN sent
