-- Every key with its limits and what its window holds now: the calls that still count, as
-- baton_limit_acquire counts them (window plus grace), whether or not an admission has
-- deleted the older ones yet.
SELECT l.key, l.requests_per_minute, l.tokens_per_minute, l.window_seconds,
       CASE WHEN l.paused_until > timezone('UTC', clock_timestamp()) THEN l.paused_until END
           AS paused_until,
       count(c.id) AS requests_used,
       coalesce(sum(c.tokens), 0)::bigint AS tokens_used
  FROM {prefix}.baton_limits l
  LEFT JOIN {prefix}.baton_limit_calls c
    ON c.key = l.key
   AND c.at > timezone('UTC', clock_timestamp())
              - make_interval(secs => l.window_seconds + least(1.0, l.window_seconds / 10))
 WHERE %(key)s::text IS NULL OR l.key = %(key)s::text
 GROUP BY l.key
 ORDER BY l.key
