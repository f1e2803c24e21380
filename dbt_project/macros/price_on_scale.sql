{#- A book price as the feed sent it, on the `scale` asked for: 'leg' (the side's own leg: a NO
    bid at q is q) or 'yes' (the YES scale: a NO bid at q is a YES ask at 1 - q). A subscription
    with use_yes_price sends NO prices on the YES scale, else on the NO leg's, so a NO price
    flips (1 - price) exactly when the scale it was sent on is not the one asked for; a YES price
    is the same on both. The one place the use_yes_price flip is written. -#}
{% macro price_on_scale(price, side, use_yes_price, scale) -%}
    {%- if scale not in ('leg', 'yes') -%}
        {{ exceptions.raise_compiler_error("price_on_scale: scale 'leg' or 'yes', not " ~ scale) }}
    {%- endif -%}
    (
        case
            when {{ side }} = 'no' and {{ 'not ' if scale == 'yes' }}{{ use_yes_price }}
                then 1 - {{ price }}
            else {{ price }}
        end
    )::numeric(10, 6)
{%- endmacro %}
