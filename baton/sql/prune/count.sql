-- What delete.sql would delete for these workflows, for a dry run: their steps, edges and
-- the jobs of their own still in oban_jobs (the same tables, the same conditions).
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
           AND j.meta ->> 'workflow_id' = s.workflow_id
           AND j.meta ->> 'workflow_step' = s.name
           AND j.state IN ('completed', 'cancelled', 'discarded')) AS jobs,
       cardinality(%(ids)s::text[]) AS workflows
