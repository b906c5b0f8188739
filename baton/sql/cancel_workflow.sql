UPDATE {prefix}.baton_workflows
   SET cancelled_at = CASE
           WHEN finished_at IS NULL THEN coalesce(cancelled_at, timezone('UTC', now()))
           ELSE cancelled_at
       END
 WHERE id = %(workflow_id)s
RETURNING id
