SELECT s.name, coalesce(s.outcome, j.state::text, 'deleted')
  FROM {prefix}.baton_steps s
  LEFT JOIN {prefix}.oban_jobs j ON j.id = s.job_id
 WHERE s.workflow_id = %(workflow_id)s
 ORDER BY s.job_id
