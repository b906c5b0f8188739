-- The last error of a job for an event. From a traceback, the exception part of the last
-- (raised) traceback in a chain: its first unindented line and every line after it, so a
-- multi-line message (an API error with a JSON body) is not cut to its last line.
CREATE OR REPLACE FUNCTION {prefix}.baton_last_error(p_errors jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    v_error text := p_errors -> -1 ->> 'error';
    v_lines text[];
    v_from integer := 1;
BEGIN
    IF v_error IS NULL OR v_error NOT LIKE 'Traceback (most recent call last):%' THEN
        RETURN v_error;
    END IF;
    v_lines := string_to_array(rtrim(v_error, E' \n'), E'\n');
    FOR i IN REVERSE cardinality(v_lines)..1 LOOP
        IF v_lines[i] = 'Traceback (most recent call last):' THEN
            v_from := i + 1;
            EXIT;
        END IF;
    END LOOP;
    -- The frames ("  File ...", their code) are indented; the exception is not.
    FOR i IN v_from..cardinality(v_lines) LOOP
        IF v_lines[i] <> '' AND left(v_lines[i], 1) NOT IN (' ', E'\t') THEN
            RETURN array_to_string(v_lines[i:], E'\n');
        END IF;
    END LOOP;
    RETURN v_lines[cardinality(v_lines)];
END;
$$;
