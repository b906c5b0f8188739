SELECT DISTINCT queue
  FROM {prefix}.oban_producers
 WHERE queue = ANY(%(queues)s::text[])
   AND updated_at > timezone('UTC', now()) - make_interval(secs => %(max_age)s)
   AND coalesce(meta ->> 'paused', 'false') <> 'true'
