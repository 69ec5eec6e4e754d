"""Published data for tests: SeaweedFS as R2 and as the Iceberg REST catalog (`seaweed`),
lakehouses built by the real pipeline from generated or shared releases (`fixture`), and
published tables read back the way outside readers do (`published`)."""
