SELECT context FROM {prefix}.baton_workflows WHERE id = %(workflow_id)s
