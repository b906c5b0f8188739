SELECT d.name,
       d.group_name AS "group",
       d.outcome,
       d.performed_at IS NOT NULL AS performed,
       d.result,
       d.model,
       d.by_model
  FROM {prefix}.baton_steps d
 WHERE d.workflow_id = %(workflow_id)s
   AND (%(path)s::text IS NULL OR starts_with(d.name, %(path)s::text || '/'))
 ORDER BY d.job_id
