-- Branches: which of the names a step's Complete(skip=...) may mean are its direct
-- dependents (by the edges' primary key), the members of groups so named that are its direct
-- dependents (by the group index, then the edges' primary key), and its first direct
-- dependents by name, for an error that lists them. Read inside the write that stores the
-- result.
SELECT ARRAY(
           SELECT e.downstream
             FROM {prefix}.baton_edges e
            WHERE e.workflow_id = %(workflow_id)s AND e.upstream = %(step)s
              AND e.downstream = ANY(%(candidates)s::text[])
       ) AS found,
       ARRAY(
           SELECT jsonb_build_array(s.group_name, s.name)
             FROM {prefix}.baton_steps s
            WHERE s.workflow_id = %(workflow_id)s
              AND s.group_name = ANY(%(candidates)s::text[])
              AND EXISTS (SELECT 1 FROM {prefix}.baton_edges e
                           WHERE e.workflow_id = s.workflow_id AND e.upstream = %(step)s
                             AND e.downstream = s.name)
            ORDER BY s.group_name, s.group_index
       ) AS members,
       ARRAY(
           SELECT e.downstream
             FROM {prefix}.baton_edges e
            WHERE e.workflow_id = %(workflow_id)s AND e.upstream = %(step)s
            ORDER BY e.downstream
            LIMIT %(shown)s
       ) AS dependents
