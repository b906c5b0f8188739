UPDATE {prefix}.baton_steps s
   SET pending = counts.pending,
       blocked = counts.blocked,
       live = counts.live
  FROM (
      SELECT me.name,
             count(d.name) FILTER (WHERE d.outcome IS NULL) AS pending,
             count(d.name) FILTER (
                 WHERE (d.outcome = 'cancelled' AND NOT me.ignore_cancelled)
                    OR (d.outcome = 'discarded' AND NOT me.ignore_discarded)
                    OR (d.outcome = 'deleted' AND NOT me.ignore_deleted)
             ) AS blocked,
             count(d.name) FILTER (WHERE d.outcome <> 'skipped') AS live
        FROM {prefix}.baton_steps me
        LEFT JOIN {prefix}.baton_edges e
          ON e.workflow_id = me.workflow_id AND e.downstream = me.name
        LEFT JOIN {prefix}.baton_steps d
          ON d.workflow_id = e.workflow_id AND d.name = e.upstream
       WHERE me.workflow_id = %(workflow_id)s AND me.outcome IS NULL
       GROUP BY me.name
  ) AS counts
 WHERE s.workflow_id = %(workflow_id)s AND s.name = counts.name
