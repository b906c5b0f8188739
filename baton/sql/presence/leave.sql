-- A listener no longer follows these topics (all of them when %(topics)s is NULL).
DELETE FROM {prefix}.baton_listeners
 WHERE listener = %(listener)s
   AND (%(topics)s::text[] IS NULL OR topic = ANY(%(topics)s::text[]))
