UPDATE {prefix}.baton_workflows
   SET cancelled_at = coalesce(cancelled_at, timezone('UTC', now()))
 WHERE id = %(workflow_id)s
RETURNING id
