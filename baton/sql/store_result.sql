UPDATE {prefix}.baton_steps
   SET performed_at = timezone('UTC', now()),
       result = %(result)s::jsonb
 WHERE job_id = %(job_id)s
   AND performed_at IS NULL
