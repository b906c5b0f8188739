SELECT me.workflow_id,
       me.name AS step,
       me.deps,
       d.name,
       d.group_name AS "group",
       d.outcome,
       d.performed_at IS NOT NULL AS performed,
       d.result,
       d.model,
       d.by_model
  FROM {prefix}.baton_steps me
  LEFT JOIN {prefix}.baton_steps d
    ON d.workflow_id = me.workflow_id
   AND (d.name = ANY(coalesce(%(names)s::text[], me.deps))
        OR d.group_name = ANY(coalesce(%(names)s::text[], me.deps)))
 WHERE me.workflow_id = %(workflow_id)s AND me.name = %(step)s AND me.job_id = %(job_id)s
 ORDER BY d.group_name NULLS FIRST, d.group_index, d.name
