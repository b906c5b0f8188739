SELECT {prefix}.baton_limit_correct(%(call_id)s, %(tokens)s)
