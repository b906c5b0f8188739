-- Deletes the jobs these workflows still have in oban_jobs, all in a final state (batch.sql
-- chose no workflow with any other). A job some other transaction holds (Oban's pruner
-- deleting it) is skipped rather than waited for. Baton's delete trigger fires for each
-- at commit and finds no step left: it changes nothing, as for any settled step.
DELETE FROM {prefix}.oban_jobs
 WHERE id IN (
     SELECT j.id
       FROM {prefix}.baton_steps s
       JOIN {prefix}.oban_jobs j ON j.id = s.job_id
      WHERE s.workflow_id = ANY(%(ids)s)
        AND j.meta ->> 'workflow_id' = s.workflow_id
        AND j.state IN ('completed', 'cancelled', 'discarded')
        FOR UPDATE OF j SKIP LOCKED
 )
