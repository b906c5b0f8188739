SELECT t.tgname, obj_description(t.oid, 'pg_trigger')
  FROM pg_trigger t
 WHERE t.tgrelid = to_regclass(%(table)s)
