SELECT s.workflow_id,
       s.name,
       s.performed_at IS NOT NULL,
       s.deps,
       s.ignore_cancelled,
       s.ignore_discarded,
       s.ignore_deleted,
       w.cancelled_at IS NOT NULL,
       CASE WHEN s.pending > 0 OR s.blocked > 0 THEN (
           SELECT coalesce(jsonb_agg(jsonb_build_array(
                      d.name,
                      coalesce(d.outcome, CASE WHEN j.id IS NULL THEN 'deleted' END, 'pending')
                  ) ORDER BY d.name), '[]'::jsonb)
             FROM {prefix}.baton_edges e
             JOIN {prefix}.baton_steps d
               ON d.workflow_id = e.workflow_id AND d.name = e.upstream
             LEFT JOIN {prefix}.oban_jobs j ON j.id = d.job_id
            WHERE e.workflow_id = s.workflow_id AND e.downstream = s.name
       ) END,
       {prefix}.baton_notify_step(
           s.workflow_id, w.name, s.name, %(worker)s, 'executing', s.job_id, %(attempt)s,
           s.performed_at IS NOT NULL, false, NULL)
  FROM {prefix}.baton_steps s
  JOIN {prefix}.baton_workflows w ON w.id = s.workflow_id
 WHERE s.job_id = %(job_id)s
