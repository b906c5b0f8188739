UPDATE {prefix}.baton_steps s
   SET outcome = NULL, settled_at = NULL
 WHERE s.workflow_id = %(workflow_id)s
   AND s.outcome IN ('cancelled', 'discarded', 'deleted')
RETURNING s.name, s.job_id,
          EXISTS (SELECT 1 FROM {prefix}.oban_jobs j
                   WHERE j.id = s.job_id AND j.meta->>'workflow_id' = s.workflow_id
                     AND j.meta->>'workflow_step' = s.name) AS job_exists
