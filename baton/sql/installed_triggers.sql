-- Baton's install reads each trigger's digest comment; a disabled trigger reads as none,
-- so the install creates it again (enabled).
SELECT t.tgname, CASE WHEN t.tgenabled = 'O' THEN obj_description(t.oid, 'pg_trigger') END
  FROM pg_trigger t
 WHERE t.tgrelid = to_regclass(%(table)s)
