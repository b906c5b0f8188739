SELECT performed_at IS NOT NULL AS performed, result
  FROM {prefix}.baton_steps
 WHERE workflow_id = %(workflow_id)s AND name = %(name)s
