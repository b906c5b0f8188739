SELECT name, left((result -> 'value')::text, %(chars)s + 1) AS preview
  FROM {prefix}.baton_steps
 WHERE workflow_id = %(workflow_id)s AND result IS NOT NULL
