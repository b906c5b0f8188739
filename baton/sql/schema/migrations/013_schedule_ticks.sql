-- One row per tick of a schedule (baton.schedule) that built a workflow. The tick job
-- inserts its row and the workflow in one transaction, so however many jobs run for the
-- same tick (a retried tick whose ack was lost, two nodes briefly both leader) exactly one
-- workflow is built. Rows older than a week are deleted as new ticks of the schedule come.
CREATE TABLE {prefix}.baton_schedule_ticks (
    schedule text NOT NULL,
    tick timestamptz NOT NULL,
    workflow_id text NOT NULL,
    inserted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (schedule, tick)
);
