SELECT j.id
  FROM {prefix}.baton_steps s
  JOIN {prefix}.oban_jobs j
    ON j.id = s.job_id AND j.meta->>'workflow_id' = s.workflow_id
     AND j.meta->>'workflow_step' = s.name
 WHERE s.workflow_id = %(workflow_id)s
   AND s.outcome IS NULL
   AND (j.state <> 'suspended' OR NOT (s.gated AND s.callbacks))
   AND j.id IS DISTINCT FROM %(sparing)s::bigint
 ORDER BY j.id
