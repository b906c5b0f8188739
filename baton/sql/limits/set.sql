INSERT INTO {prefix}.baton_limits AS l (key, requests_per_minute, tokens_per_minute, window_seconds)
VALUES (%(key)s, %(requests_per_minute)s, %(tokens_per_minute)s, %(window_seconds)s)
ON CONFLICT (key) DO UPDATE
   SET requests_per_minute = excluded.requests_per_minute,
       tokens_per_minute = excluded.tokens_per_minute,
       window_seconds = excluded.window_seconds,
       updated_at = timezone('UTC', now())
