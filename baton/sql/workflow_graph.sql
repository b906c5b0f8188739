SELECT s.name,
       s.group_name AS "group",
       CASE WHEN s.outcome = 'skipped' THEN 'skipped'
            WHEN j.id IS NULL THEN coalesce(s.outcome, 'deleted')
            -- signals: a ready signal step with no signal yet waits for one
            WHEN s.signal AND s.signalled_at IS NULL AND s.outcome IS NULL AND s.pending = 0
                 AND s.blocked = 0 AND j.state::text IN ('suspended', 'scheduled')
            THEN 'awaiting_signal'
            ELSE j.state::text END AS state,
       ARRAY(
           SELECT e.upstream
             FROM {prefix}.baton_edges e
            WHERE e.workflow_id = s.workflow_id AND e.downstream = s.name
            ORDER BY e.upstream
       ) AS upstream
  FROM {prefix}.baton_steps s
  LEFT JOIN {prefix}.oban_jobs j
    ON j.id = s.job_id AND j.meta->>'workflow_id' = s.workflow_id
     AND j.meta->>'workflow_step' = s.name
 WHERE s.workflow_id = %(workflow_id)s
 ORDER BY s.job_id
