-- Charge an admitted call p_tokens instead of its estimate, and the key's count of tokens
-- in the window by the difference. Locks the key's row first, as baton_limit_acquire
-- does, so the two never wait for each other's locks in opposite orders. A call that left
-- the window already (deleted by an admission) changes nothing.
CREATE OR REPLACE FUNCTION {prefix}.baton_limit_correct(p_call_id bigint, p_tokens bigint)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_key text;
    v_old bigint;
BEGIN
    -- The window is bookkeeping, not a record: its transaction need not wait for the WAL
    -- to reach the disk (a server crash may forget the last moments' calls).
    PERFORM set_config('synchronous_commit', 'off', true);
    SELECT key INTO v_key FROM {prefix}.baton_limit_calls WHERE id = p_call_id;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    PERFORM 1 FROM {prefix}.baton_limits WHERE key = v_key FOR UPDATE;
    SELECT tokens INTO v_old FROM {prefix}.baton_limit_calls WHERE id = p_call_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    UPDATE {prefix}.baton_limit_calls SET tokens = p_tokens WHERE id = p_call_id;
    UPDATE {prefix}.baton_limits
       SET window_tokens = greatest(0, window_tokens + p_tokens - v_old)
     WHERE key = v_key;
END;
$$;
