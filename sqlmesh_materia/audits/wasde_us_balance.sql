AUDIT (
  name wasde_us_balance
);

/* Every U.S. balance sheet of a WASDE report balances within rounding, by the identities
   of materia/sources/wasde_tables.py: supply = beginning stocks + production + imports (sources);
   supply = the use lines + ending stocks (uses); a total = its parts (corn's Domestic,
   Total = Feed and Residual + Food, Seed & Industrial); a sub-line within another is at
   most that line (Ethanol & by-products within Food, Seed & Industrial). An identity is
   checked where all its lines are printed. Rounding: each line is rounded to the precision
   the sheet prints (1 million bushels, 0.1 or 0.01 of its unit), so the sides may differ
   by one and a half of it. */
WITH us AS (
  SELECT
    release_month,
    report_title,
    commodity,
    market_year,
    attribute,
    value
  FROM staging.stg_wasde__report
  WHERE
    release_month BETWEEN @start_ds AND @end_ds
    AND region = 'United States'
    AND period = 'Annual'
    AND reliability = ''
    AND NOT value IS NULL
), terms AS (
  SELECT
    us.release_month,
    us.report_title,
    us.commodity,
    us.market_year,
    balance.role,
    balance.total,
    balance.parts,
    us.value
  FROM us
  JOIN @wasde_balance() /* AS balance (report_title, commodity, attribute, role, total, parts) */
    ON balance.report_title = us.report_title
    AND balance.attribute = us.attribute
    AND balance.commodity IN ('*', us.commodity)
), sums AS (
  SELECT
    release_month,
    report_title,
    commodity,
    market_year,
    role,
    total,
    SUM(value) AS terms_sum,
    MAX(value) AS largest_term,
    COUNT(*) AS terms,
    MAX(parts) AS parts,
    MAX(ABS(value - ROUND(value))) AS off_units,
    MAX(ABS(value * 10 - ROUND(value * 10))) AS off_tenths
  FROM terms
  GROUP BY
    release_month,
    report_title,
    commodity,
    market_year,
    role,
    total
), checked AS (
  SELECT
    sums.report_title,
    sums.commodity,
    sums.market_year,
    sums.role,
    sums.total,
    t.value AS total_value,
    sums.terms_sum,
    sums.release_month,
    sums.largest_term,
    sums.terms,
    sums.parts,
    1.5 * CASE
      WHEN sums.off_units < 0.001 AND ABS(t.value - ROUND(t.value)) < 0.001
      THEN 1
      WHEN sums.off_tenths < 0.001 AND ABS(t.value * 10 - ROUND(t.value * 10)) < 0.001
      THEN 0.1
      ELSE 0.01
    END AS tolerance
  FROM sums
  JOIN us AS t
    ON t.release_month = sums.release_month
    AND t.report_title = sums.report_title
    AND t.commodity = sums.commodity
    AND t.market_year = sums.market_year
    AND t.attribute = sums.total
)
SELECT
  report_title,
  commodity,
  market_year,
  role,
  total,
  total_value,
  terms_sum,
  release_month,
  tolerance
FROM checked
WHERE
  (
    role = 'within' AND largest_term > total_value
  )
  OR (
    role <> 'within'
    AND terms = parts
    AND ABS(total_value - terms_sum) > tolerance + 0.000001
  )