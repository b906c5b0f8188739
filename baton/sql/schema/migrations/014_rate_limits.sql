-- Rate limits shared by every node (docs/rate-limits.md). A key's row holds its limits,
-- the length of the sliding window they are counted over, and how long a provider's 429
-- paused it; its row lock serialises every admission of the key. Each admitted call
-- leaves a row in baton_limit_calls until it falls out of the window.
CREATE TABLE {prefix}.baton_limits (
    key text PRIMARY KEY,
    requests_per_minute integer CHECK (requests_per_minute > 0),
    tokens_per_minute bigint CHECK (tokens_per_minute > 0),
    window_seconds double precision NOT NULL DEFAULT 60 CHECK (window_seconds > 0),
    paused_until timestamp WITHOUT TIME ZONE,
    -- what baton_limit_calls holds for the key: kept by baton_limit_acquire and
    -- baton_limit_correct, so that an admission does not count the window's rows
    window_requests bigint NOT NULL DEFAULT 0,
    window_tokens bigint NOT NULL DEFAULT 0,
    updated_at timestamp WITHOUT TIME ZONE NOT NULL DEFAULT timezone('UTC', now())
);

CREATE TABLE {prefix}.baton_limit_calls (
    id bigserial PRIMARY KEY,
    key text NOT NULL REFERENCES {prefix}.baton_limits (key) ON DELETE CASCADE,
    at timestamp WITHOUT TIME ZONE NOT NULL,
    tokens bigint NOT NULL DEFAULT 0 CHECK (tokens >= 0)
);

CREATE INDEX baton_limit_calls_key_at ON {prefix}.baton_limit_calls (key, at, id);
