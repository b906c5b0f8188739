UPDATE {prefix}.baton_steps
   SET performed_at = timezone('UTC', now()),
       performed_attempt = %(attempt)s,
       result = %(result)s::jsonb,
       usage = %(usage)s::jsonb
 WHERE workflow_id = %(workflow_id)s AND name = %(step)s AND job_id = %(job_id)s
   AND performed_at IS NULL
