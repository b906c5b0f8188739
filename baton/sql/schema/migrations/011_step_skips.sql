-- Branches: a step completing with Complete(value, skip=[...]) skips some of its direct
-- dependents, and a step all of whose deps were skipped is skipped in turn.
--
-- skips: the dependents a step's result skips, stored with the result (in the same write,
--        before the ack), so a retry that finds the result stored skips the same ones; its
--        settlement as completed applies them.
-- live: deps settled other than skipped; a step whose last dep settles with live = 0 had
--        every dep skipped, and is skipped.
ALTER TABLE {prefix}.baton_steps
    ADD COLUMN skips text[],
    ADD COLUMN live integer NOT NULL DEFAULT 0;

ALTER TABLE {prefix}.baton_steps DROP CONSTRAINT IF EXISTS baton_steps_outcome_check;
ALTER TABLE {prefix}.baton_steps ADD CONSTRAINT baton_steps_outcome_check
    CHECK (outcome IN ('completed', 'cancelled', 'discarded', 'deleted', 'skipped'));

-- Steps of unfinished workflows get their count from what already settled upstream.
UPDATE {prefix}.baton_steps me
   SET live = (
       SELECT count(*)
         FROM {prefix}.baton_edges e
         JOIN {prefix}.baton_steps d ON d.workflow_id = e.workflow_id AND d.name = e.upstream
        WHERE e.workflow_id = me.workflow_id AND e.downstream = me.name
          AND d.outcome IS NOT NULL
   )
 WHERE me.outcome IS NULL;
