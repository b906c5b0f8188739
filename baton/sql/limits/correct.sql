UPDATE {prefix}.baton_limit_calls SET tokens = %(tokens)s WHERE id = %(call_id)s
