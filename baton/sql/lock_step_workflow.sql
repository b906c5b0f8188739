SELECT s.workflow_id, s.name, s.outcome, w.cancelled_at IS NOT NULL AS workflow_cancelled,
       w.context, w.step_count, w.max_steps,
       w.budget_usd IS NOT NULL OR w.budget_tokens IS NOT NULL AS budgeted
  FROM {prefix}.baton_steps s
  JOIN {prefix}.baton_workflows w ON w.id = s.workflow_id
 WHERE s.workflow_id = %(workflow_id)s AND s.name = %(step)s AND s.job_id = %(job_id)s
   FOR UPDATE OF w
