SELECT granted, call_id, wait_seconds, known
  FROM {prefix}.baton_limit_acquire(%(key)s, %(tokens)s)
