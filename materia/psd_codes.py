"""The PSD file format and the codes materia gives meaning to, defined once for the
extractor, the raw layer, the SQLMesh macros and the notebook.

Keyed on PSD attribute ids, never on their labels (labels drift between releases, e.g.
cotton 142 "USE Dom. Consumption" became "Domestic Use").
"""

# The columns of every PSD CSV, in order; the header line is these joined by commas.
COLUMNS = (
    "Commodity_Code",
    "Commodity_Description",
    "Country_Code",
    "Country_Name",
    "Market_Year",
    "Calendar_Year",
    "Month",
    "Attribute_ID",
    "Attribute_Description",
    "Unit_ID",
    "Unit_Description",
    "Value",
)
HEADER = ",".join(COLUMNS)

# The key metrics: the pivoted column name → PSD attribute id.
METRICS = {
    "area_harvested": "004",
    "yield": "184",
    "beginning_stocks": "020",
    "production": "028",
    "imports": "057",
    "total_supply": "086",
    "exports": "088",
    "domestic_consumption": "125",
    "feed_consumption": "130",
    "ending_stocks": "176",
    "total_distribution": "178",
}
