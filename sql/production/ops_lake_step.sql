-- ops.lake_step(grain): the length of one lake window of a dataset's grain: 'hour' one hour,
-- 'day' and 'snapshot' (a reference table's state, once per UTC day) 24 hours; an unknown grain
-- is an error. With ops.window_start it is the lake's whole time grid (decision 0014).

create or replace function ops.lake_step(grain text)
returns interval
language plpgsql immutable parallel safe as $$
begin
    case grain
        when 'hour' then return interval '1 hour';
        when 'day', 'snapshot' then return interval '24 hours';
        else raise exception 'lake grain %: one of hour, day, snapshot', grain;
    end case;
end
$$;
