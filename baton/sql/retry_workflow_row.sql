UPDATE {prefix}.baton_workflows w
   SET unsettled = (
           SELECT count(*) FROM {prefix}.baton_steps s
            WHERE s.workflow_id = w.id AND s.outcome IS NULL
       ),
       outcome = NULL,
       finished_at = NULL,
       cancelled_at = NULL,
       reason = NULL
 WHERE w.id = %(workflow_id)s
