-- Admit one call under a rate limit, or say how long until it would fit.
--
-- Sliding window log: every admitted call of the key is a row of baton_limit_calls until
-- it is older than the window; the key's row counts them (window_requests, window_tokens)
-- so that no admission counts the window's rows. Under the key's row lock (so concurrent
-- admissions of one key, from any node, queue here), it drops the calls that left the
-- window (by the index on key and time), then admits
-- the call if the window's requests stay within the limit and its tokens, with p_tokens
-- added, within theirs; a call weighing more than the whole token limit is admitted into
-- an empty window. Any window of window_seconds (plus its grace, below) thus holds at most
-- the limit of admissions.
--
-- Returns granted (the call may run now; call_id names its row, to correct its tokens),
-- or not and wait_seconds: until the key's pause ends, or until enough calls leave the
-- window for this one to fit. known is false when the key has no row (no limit set).
CREATE OR REPLACE FUNCTION {prefix}.baton_limit_acquire(p_key text, p_tokens bigint)
RETURNS TABLE (granted boolean, call_id bigint, wait_seconds double precision, known boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_limit {prefix}.baton_limits%ROWTYPE;
    v_now timestamp;
    v_window interval;
    v_requests bigint;
    v_tokens bigint;
    v_used_requests bigint;
    v_used_tokens bigint;
    v_weight bigint;
    v_free timestamp;
    v_token_free timestamp;
    v_id bigint;
BEGIN
    -- The window is bookkeeping, not a record: its transaction need not wait for the WAL
    -- to reach the disk (a server crash may forget the last moments' calls).
    PERFORM set_config('synchronous_commit', 'off', true);
    SELECT * INTO v_limit FROM {prefix}.baton_limits WHERE key = p_key FOR UPDATE;
    -- The time once the lock is held, not when the statement started: an admission that
    -- waited for the lock behind others must not be recorded before them.
    v_now := timezone('UTC', clock_timestamp());
    IF NOT FOUND THEN
        RETURN QUERY SELECT true, NULL::bigint, 0::double precision, false;
        RETURN;
    END IF;
    IF v_limit.paused_until IS NOT NULL AND v_limit.paused_until > v_now THEN
        RETURN QUERY SELECT false, NULL::bigint,
            extract(epoch FROM v_limit.paused_until - v_now)::double precision, true;
        RETURN;
    END IF;

    -- A call holds its place for the window plus a grace (a tenth of the window, at most
    -- 1 s): it reaches the provider a little after its admission, by a delay that varies
    -- from call to call, and the provider counts from its arrival.
    v_window := make_interval(secs => v_limit.window_seconds
                                      + least(1.0, v_limit.window_seconds / 10));
    WITH gone AS (
        DELETE FROM {prefix}.baton_limit_calls
         WHERE key = p_key AND at <= v_now - v_window
        RETURNING tokens
    )
    SELECT v_limit.window_requests - count(*), v_limit.window_tokens - coalesce(sum(tokens), 0)
      INTO v_used_requests, v_used_tokens
      FROM gone;
    -- Limits per minute, scaled to the window (at least 1); NULL: no such limit. (Not
    -- greatest(1, NULL), which is 1.)
    v_requests := CASE WHEN v_limit.requests_per_minute IS NOT NULL THEN
        greatest(1, floor(v_limit.requests_per_minute * v_limit.window_seconds / 60)) END;
    v_tokens := CASE WHEN v_limit.tokens_per_minute IS NOT NULL THEN
        greatest(1, floor(v_limit.tokens_per_minute * v_limit.window_seconds / 60)) END;
    v_weight := least(p_tokens, v_tokens);

    IF v_requests IS NOT NULL AND v_used_requests >= v_requests THEN
        -- room comes when the (used - limit + 1)-th oldest call leaves the window
        SELECT c.at INTO v_free FROM {prefix}.baton_limit_calls c
         WHERE c.key = p_key ORDER BY c.at, c.id
         OFFSET v_used_requests - v_requests LIMIT 1;
    END IF;
    IF v_tokens IS NOT NULL AND v_used_tokens + v_weight > v_tokens THEN
        -- the first call whose leaving (with the older ones') leaves room for this one
        SELECT s.at INTO v_token_free FROM (
            SELECT c.at, c.id,
                   v_used_tokens - sum(c.tokens) OVER (ORDER BY c.at, c.id) AS remaining
              FROM {prefix}.baton_limit_calls c WHERE c.key = p_key
        ) s
         WHERE s.remaining + v_weight <= v_tokens
         ORDER BY s.at, s.id LIMIT 1;
        v_free := greatest(v_free, v_token_free);
    END IF;
    IF v_free IS NOT NULL THEN
        UPDATE {prefix}.baton_limits
           SET window_requests = v_used_requests, window_tokens = v_used_tokens
         WHERE key = p_key
           AND (window_requests, window_tokens) IS DISTINCT FROM (v_used_requests, v_used_tokens);
        RETURN QUERY SELECT false, NULL::bigint,
            greatest(0, extract(epoch FROM v_free + v_window - v_now))::double precision, true;
        RETURN;
    END IF;

    INSERT INTO {prefix}.baton_limit_calls (key, at, tokens)
    VALUES (p_key, v_now, p_tokens) RETURNING id INTO v_id;
    UPDATE {prefix}.baton_limits
       SET window_requests = v_used_requests + 1, window_tokens = v_used_tokens + p_tokens
     WHERE key = p_key;
    RETURN QUERY SELECT true, v_id, 0::double precision, true;
END;
$$;
