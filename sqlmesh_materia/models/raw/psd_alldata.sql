/* raw.psd_alldata: the rows of the landed PSD archives, as published.

A view over what materia loads from the archives themselves (the landed zips are the
immutable archive; nothing here is stored a second time): one row per CSV line, codes
kept as zero-padded strings, with the landing key's dataset, release month and etag,
whether the archive is its dataset's newest landed release, and how many archives its
release month has. */
MODEL (
  name raw.psd_alldata,
  kind VIEW,
  grain (dataset, etag, commodity_code, country_code, market_year, attribute_id),
  description 'Landed PSD archive rows as published; dataset = landing stem, release_month = landing key month, etag = archive identity; newest = the dataset''s newest landed release; month_archives = archives landed for that release month.'
);

SELECT
  dataset,
  release_month,
  etag,
  newest,
  month_archives,
  commodity_code,
  commodity_description,
  country_code,
  country_name,
  market_year,
  calendar_year,
  month,
  attribute_id,
  attribute_description,
  unit_id,
  unit_description,
  value
FROM materia_input.psd_rows