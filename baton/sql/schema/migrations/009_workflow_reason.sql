-- Why a workflow failed as a whole rather than by one step's failure: 'deadline' (its
-- deadline passed), 'budget' (its recorded cost reached its budget). NULL otherwise. Set,
-- together with the cancellation of its unfinished steps, by whatever enforces the limit;
-- the "workflow finished" event and baton.status report it.
ALTER TABLE {prefix}.baton_workflows ADD COLUMN reason text;
