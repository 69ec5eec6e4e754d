"""SeaweedFS on loopback really is an S3 server and an Iceberg REST catalog."""

from __future__ import annotations

import pyarrow as pa
import pytest

pytestmark = pytest.mark.s3


def test_s3_roundtrip(seaweed):
    fs = seaweed.s3fs()
    fs.pipe(f"{seaweed.bucket}/probe/hello.txt", b"hello")
    assert fs.cat(f"{seaweed.bucket}/probe/hello.txt") == b"hello"
    fs.rm(f"{seaweed.bucket}/probe/hello.txt")
    assert seaweed.secret_key not in repr(seaweed)


def test_iceberg_rest_catalog_with_pyiceberg(seaweed):
    catalog = seaweed.catalog()
    catalog.create_namespace_if_not_exists("seaweed_probe")
    data = pa.table({"commodity_code": ["0711100", "2631000"], "value": [62600.0, 14031.0]})
    table = catalog.create_table_if_not_exists("seaweed_probe.t", schema=data.schema)
    table.append(data)
    loaded = seaweed.catalog("again").load_table("seaweed_probe.t")
    assert loaded.scan().to_arrow().sort_by("commodity_code").equals(data)
    assert loaded.metadata_location.startswith(f"{seaweed.warehouse}/")
    catalog.drop_table("seaweed_probe.t")
