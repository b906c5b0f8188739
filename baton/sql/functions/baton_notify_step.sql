-- Builds and sends one step event. The payload stays under PostgreSQL's 8,000-byte limit
-- whatever the error text: names are cut; the error (the exception's type and message,
-- from baton_last_error) goes whole when it fits, else its first 1,000 characters, else a
-- note to read it from the job. Nothing is built or sent when nobody listens
-- (baton_listened).
CREATE OR REPLACE FUNCTION {prefix}.baton_notify_step(
    p_workflow text,
    p_workflow_name text,
    p_step text,
    p_worker text,
    p_state text,
    p_job bigint,
    p_attempt integer,
    p_stored boolean,
    p_cached boolean,
    p_error text
) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_payload text;
    v_error text := p_error;
BEGIN
    IF NOT {prefix}.baton_listened(p_workflow) THEN
        RETURN;
    END IF;
    FOR v_try IN 1..3 LOOP
        v_payload := json_build_object(
            'type', 'step',
            'workflow_id', p_workflow,
            'workflow_name', left(p_workflow_name, 200),
            'step', left(p_step, 200),
            'worker', left(p_worker, 300),
            'state', p_state,
            'job_id', p_job,
            'attempt', p_attempt,
            'result_stored', coalesce(p_stored, false),
            'cached', coalesce(p_cached, false),
            'error', v_error,
            'at', to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
        )::text;
        EXIT WHEN octet_length(v_payload) <= 7900;
        v_error := CASE
            WHEN v_try = 1 THEN left(p_error, 1000) || '… (cut; the whole error is in the job)'
            ELSE '(error too large for an event; read it from the job)'
        END;
    END LOOP;
    PERFORM pg_notify({events}, v_payload);
END;
$$;
