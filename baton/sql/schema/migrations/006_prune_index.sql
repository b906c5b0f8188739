-- Schema version 6: finished workflows in the order the pruner deletes them (oldest first),
-- so each of its batches reads a range of this index instead of scanning every workflow.
-- Unfinished workflows are not in it: inserting a workflow does not touch it.
CREATE INDEX baton_workflows_finished_at_index
    ON {prefix}.baton_workflows (finished_at, id) WHERE finished_at IS NOT NULL;
