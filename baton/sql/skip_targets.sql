-- Branches: which of the names a step's Complete(skip=...) may mean are its direct
-- dependents (by the edges' primary key), and the first of its direct dependents, for an
-- error that lists them. Read inside the write that stores the result.
SELECT ARRAY(
           SELECT e.downstream
             FROM {prefix}.baton_edges e
            WHERE e.workflow_id = %(workflow_id)s AND e.upstream = %(step)s
              AND e.downstream = ANY(%(candidates)s::text[])
       ) AS found,
       ARRAY(
           SELECT e.downstream
             FROM {prefix}.baton_edges e
            WHERE e.workflow_id = %(workflow_id)s AND e.upstream = %(step)s
            ORDER BY e.downstream
            LIMIT %(shown)s
       ) AS dependents
