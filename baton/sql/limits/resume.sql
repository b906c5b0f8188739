UPDATE {prefix}.baton_limits SET paused_until = NULL WHERE key = %(key)s
