SELECT 1
  FROM {prefix}.baton_workflows
 WHERE id = %(workflow_id)s
