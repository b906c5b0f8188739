SELECT name, usage
  FROM {prefix}.baton_steps
 WHERE workflow_id = %(workflow_id)s AND usage IS NOT NULL
 ORDER BY job_id
