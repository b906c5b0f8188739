SELECT {prefix}.baton_cancel_blocked(%(job_ids)s::bigint[])
