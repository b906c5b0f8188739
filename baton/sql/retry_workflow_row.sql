UPDATE {prefix}.baton_workflows w
   SET unsettled = (
           SELECT count(*) FROM {prefix}.baton_steps s
            WHERE s.workflow_id = w.id AND s.outcome IS NULL
       ),
       outcome = NULL,
       finished_at = NULL,
       cancelled_at = NULL,
       -- a retried run starts its deadline again, as long as the first one was
       deadline_at = timezone('UTC', now()) + (w.deadline_at - w.inserted_at),
       reason = NULL
 WHERE w.id = %(workflow_id)s
