-- The trigger function of baton_step_settled and baton_step_deleted: it only names what
-- happened. A job deleted before it settled is "deleted" (or its terminal state, if its
-- settlement was missed); a job that settled and was then pruned changes nothing.
-- Producers are woken unless the settlement is an ack: the acking producer fetches its
-- own queue right after.
CREATE OR REPLACE FUNCTION {prefix}.baton_job_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM {prefix}.baton_settle_step(
            OLD.id, OLD.meta->>'workflow_id', OLD.meta->>'workflow_step',
            CASE WHEN OLD.state IN ('completed', 'cancelled', 'discarded') THEN OLD.state::text
                 ELSE 'deleted' END,
            OLD.worker, OLD.queue, OLD.attempt, OLD.errors,
            p_job_deleted => true);
    ELSE
        PERFORM {prefix}.baton_settle_step(
            NEW.id, NEW.meta->>'workflow_id', NEW.meta->>'workflow_step',
            CASE WHEN NEW.state = 'scheduled' THEN 'snoozed' ELSE NEW.state::text END,
            NEW.worker, NEW.queue, NEW.attempt, NEW.errors,
            p_wake => OLD.state <> 'executing');
    END IF;
    RETURN NULL;
END;
$$;
