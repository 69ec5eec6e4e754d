/* raw.wasde_report: the rows of the landed WASDE report data files, as published.

A view over what materia loads from the landed CSVs themselves (one file per monthly
report, the immutable archive; nothing is stored a second time): one row per CSV line,
every field as USDA wrote it (units free text, flags as printed), with the landing key's
dataset, release month and etag, whether the file is the newest landed report, and how
many files its release month has. */
MODEL (
  name raw.wasde_report,
  kind VIEW,
  grain (
    etag,
    report_title,
    commodity,
    region,
    market_year,
    attribute,
    annual_quarter_flag,
    reliability_projection
  ),
  description 'Landed WASDE report data rows as published; release_month = the report''s month (landing key), etag = file identity; newest = the newest landed report; value NULL where USDA printed none.'
);

SELECT
  dataset,
  release_month,
  etag,
  newest,
  month_archives,
  wasde_number,
  report_date,
  report_title,
  attribute,
  reliability_projection,
  commodity,
  region,
  market_year,
  proj_est_flag,
  annual_quarter_flag,
  value,
  unit,
  release_date,
  release_time,
  forecast_year,
  forecast_month
FROM materia_input.wasde_rows