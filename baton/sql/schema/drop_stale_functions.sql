-- Drops every baton_ function in the schema that this install did not create or replace:
-- one renamed, removed, or whose parameters changed (CREATE OR REPLACE cannot change a
-- function's parameters, so the old signature would live on beside the new one). Runs after
-- the triggers are recreated, so no trigger still uses an old trigger function. A function
-- (re)created in this transaction has a catalog row written by it: its xmin is ours. The
-- schema's oid is that of its baton_workflows row type.
DO $$
DECLARE
    v_function regprocedure;
BEGIN
    FOR v_function IN
        SELECT p.oid::regprocedure
          FROM pg_proc p
         WHERE p.pronamespace = (
                   SELECT typnamespace FROM pg_type
                    WHERE oid = pg_typeof(NULL::{prefix}.baton_workflows)
               )
           AND starts_with(p.proname, 'baton_')
           AND p.xmin <> pg_current_xact_id()::xid
    LOOP
        EXECUTE format('DROP FUNCTION %s', v_function);
    END LOOP;
END;
$$
