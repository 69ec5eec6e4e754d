/* raw.psd_alldata: every landed PSD archive, row for row.

Reads the single CSV member of each archive landed under
psd/<stem>/<YYYY>/<MM>/<etag>.zip (local folder or s3:// on R2) for the release months
of the interval, with the PSD column names as published and codes kept as strings.
Each release month is loaded on its own: a new release never reprocesses earlier ones,
and materia restates exactly the months whose landed archives changed. */
MODEL (
  name raw.psd_alldata,
  kind INCREMENTAL_BY_TIME_RANGE (
    time_column release_month
  ),
  allow_partials TRUE,
  grain (dataset, etag, commodity_code, country_code, market_year, attribute_id),
  description 'Landed PSD archives as published, one row per CSV line; dataset = landing stem, release_month = first day of the landing key month, etag = archive identity.'
);

SELECT
  dataset::VARCHAR AS dataset,
  release_month::DATE AS release_month,
  etag::VARCHAR AS etag,
  "Commodity_Code"::VARCHAR AS commodity_code,
  "Commodity_Description"::VARCHAR AS commodity_description,
  "Country_Code"::VARCHAR AS country_code,
  "Country_Name"::VARCHAR AS country_name,
  "Market_Year"::INTEGER AS market_year,
  "Calendar_Year"::INTEGER AS calendar_year,
  "Month"::VARCHAR AS month,
  "Attribute_ID"::VARCHAR AS attribute_id,
  "Attribute_Description"::VARCHAR AS attribute_description,
  "Unit_ID"::VARCHAR AS unit_id,
  "Unit_Description"::VARCHAR AS unit_description,
  "Value"::DOUBLE AS value
FROM @psd_landed(@start_ds, @end_ds) AS landed
WHERE
  release_month BETWEEN @start_ds AND @end_ds
