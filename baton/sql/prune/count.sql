-- What pruning these workflows deletes besides their rows: steps, edges, and the jobs of
-- their own still in oban_jobs (a job whose id was reused after Oban's tables were reset
-- belongs to someone else: its meta names another workflow, or none).
SELECT (SELECT count(*)
          FROM {prefix}.baton_steps
         WHERE workflow_id = ANY(%(ids)s)) AS steps,
       (SELECT count(*)
          FROM {prefix}.baton_edges
         WHERE workflow_id = ANY(%(ids)s)) AS edges,
       (SELECT count(*)
          FROM {prefix}.baton_steps s
          JOIN {prefix}.oban_jobs j ON j.id = s.job_id
         WHERE s.workflow_id = ANY(%(ids)s)
           AND j.meta ->> 'workflow_id' = s.workflow_id) AS jobs
