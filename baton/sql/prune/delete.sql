-- Deletes the workflows of a batch with every row that belongs to them, and counts what
-- went. This is the one list of the per-workflow tables: a table added later is deleted
-- here too (and references baton_workflows ON DELETE CASCADE, as these do, so that no
-- other deletion of a workflow can leave its rows behind).
--
-- The jobs are those still in oban_jobs, all in a final state (batch.sql chose no workflow
-- with any other), and only the workflow's own: a job whose id was reused after Oban's
-- tables were reset names another step in its meta, or none. A job some other
-- transaction holds (Oban's pruner deleting it) is skipped rather than waited for.
-- Baton's delete trigger fires for each job at commit and finds no step left: it changes
-- nothing, as for any settled step.
--
-- Every part reads the same snapshot, so the jobs are found through the steps deleted
-- beside them.
WITH jobs AS (
    DELETE FROM {prefix}.oban_jobs
     WHERE id IN (
         SELECT j.id
           FROM {prefix}.baton_steps s
           JOIN {prefix}.oban_jobs j ON j.id = s.job_id
          WHERE s.workflow_id = ANY(%(ids)s)
            AND j.meta ->> 'workflow_id' = s.workflow_id
            AND j.meta ->> 'workflow_step' = s.name
            AND j.state IN ('completed', 'cancelled', 'discarded')
            FOR UPDATE OF j SKIP LOCKED
     )
    RETURNING 1
), edges AS (
    DELETE FROM {prefix}.baton_edges WHERE workflow_id = ANY(%(ids)s) RETURNING 1
), steps AS (
    DELETE FROM {prefix}.baton_steps WHERE workflow_id = ANY(%(ids)s) RETURNING 1
), workflows AS (
    DELETE FROM {prefix}.baton_workflows WHERE id = ANY(%(ids)s) RETURNING 1
)
SELECT (SELECT count(*) FROM steps) AS steps,
       (SELECT count(*) FROM edges) AS edges,
       (SELECT count(*) FROM jobs) AS jobs,
       (SELECT count(*) FROM workflows) AS workflows
