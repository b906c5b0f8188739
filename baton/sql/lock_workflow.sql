SELECT id FROM {prefix}.baton_workflows WHERE id = %(workflow_id)s FOR UPDATE
