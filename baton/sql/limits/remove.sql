DELETE FROM {prefix}.baton_limits WHERE key = %(key)s
