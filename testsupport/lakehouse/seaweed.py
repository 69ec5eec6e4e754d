"""SeaweedFS `weed mini` on loopback: a real S3 server (stand-in for R2) and a real
Iceberg REST catalog (stand-in for the R2 Data Catalog), for tests and benchmarks.
The launcher itself is `materia.ops.stack.Seaweed` (also behind `materia stack up`); this
module gives it fixed test credentials.

    with Seaweed(tmp_dir) as sw:          # free ports, bucket + table bucket created
        sw.s3_endpoint                    # http://127.0.0.1:<port>
        sw.r2_env()                       # R2_ENDPOINT/R2_BUCKET/R2_ACCESS_KEY/R2_SECRET_KEY
        sw.iceberg_env()                  # ICEBERG_REST_URI/ICEBERG_WAREHOUSE/ICEBERG_CREDENTIAL
        sw.s3fs()                         # an s3fs.S3FileSystem on it
        sw.catalog()                      # a pyiceberg RestCatalog on it

Configuring pyiceberg 0.12 for its Iceberg REST catalog (verified by tests/support):

    from pyiceberg.catalog import load_catalog
    catalog = load_catalog(
        "seaweed",
        type="rest",
        uri=sw.iceberg_uri,                      # http://127.0.0.1:<iceberg port>
        credential=f"{access_key}:{secret_key}", # OAuth2 client credentials = the S3 key pair
        **{"oauth2-server-uri": f"{sw.iceberg_uri}/v1/oauth/tokens"},  # else a warning
        warehouse="s3://lakehouse",              # the table bucket, as an s3:// URL
        **{
            "s3.endpoint": sw.s3_endpoint,       # data/metadata files go through its S3 API
            "s3.access-key-id": access_key,
            "s3.secret-access-key": secret_key,
            "s3.region": "us-east-1",
        },
    )
    catalog.create_namespace_if_not_exists("serving")
    table = catalog.create_table_if_not_exists("serving.t", schema=arrow_table.schema)
    table.append(arrow_table)                    # metadata at s3://lakehouse/serving/t/...

`sw.pyiceberg_properties()` returns exactly that mapping.
"""

from __future__ import annotations

from pathlib import Path

from materia.ops import stack
from materia.ops.stack import GRPC_OFFSET, REGION, weed_binary

__all__ = ["ACCESS_KEY", "GRPC_OFFSET", "REGION", "SECRET_KEY", "Seaweed", "weed_binary"]

ACCESS_KEY = "materia-test-key"
SECRET_KEY = "materia-test-secret"  # test-only credentials for a loopback server


class Seaweed(stack.Seaweed):
    def __init__(self, data_dir: Path | str, **kw) -> None:
        super().__init__(data_dir, ACCESS_KEY, SECRET_KEY, **kw)
