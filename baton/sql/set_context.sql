UPDATE {prefix}.baton_workflows
   SET context = %(context)s::jsonb
 WHERE id = %(workflow_id)s
