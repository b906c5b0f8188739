-- Whether anyone listens for p_workflow_id's events: a live row in baton_listeners for it
-- or for every workflow (''). Every event Baton sends asks this first; nobody listening,
-- nothing is sent (no payload built, no NOTIFY, so the commit skips PostgreSQL's
-- cluster-wide notification lock).
--
-- No event is lost to a subscriber that registers while a transaction is deciding. The
-- shared advisory lock is held from here to this transaction's end; a registration
-- (presence/register.sql) takes it exclusively before its own commit. So a transaction
-- that asked before the registration commits before it (and a subscriber that re-reads
-- status after registering sees its change), and one that asks after waits for the
-- registration's commit, then reads the row in a new snapshot (the SELECT below is the
-- next statement of a VOLATILE function: READ COMMITTED takes a fresh snapshot).
-- baton_settle_step calls this before it locks the workflow's row, so a transaction never
-- waits for this lock while holding a workflow lock for the first time.
CREATE OR REPLACE FUNCTION {prefix}.baton_listened(p_workflow_id text) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(1651471470, hashtext({events}));
    RETURN EXISTS (
        SELECT 1
          FROM {prefix}.baton_listeners
         WHERE topic IN ('', p_workflow_id)
           AND expires_at > timezone('UTC', now())
    );
END;
$$;
