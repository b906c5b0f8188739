SELECT upstream, downstream
  FROM {prefix}.baton_edges
 WHERE workflow_id = %(workflow_id)s
 ORDER BY upstream, downstream
