"""Keel's serving hop: online features + model + durable prediction log, in one request.

Modules, one job each:

- `app` builds the API (`create_app(settings)`); `routes` (predict: the built-in example's short
  route `/v1/predict`, its bodies from `keyed_bodies`, and every served model's
  `/v1/models/{model}/predict`, features, feedback) and
  `ops_routes` (healthz, readyz, metrics, admin reload) are thin; `schemas` holds the bodies;
  `errors`, `auth` (bearer tokens with scopes) and `middleware` (body limit, metrics) guard it.
- `runtime` holds what a running server owns: one `model_service` per served model (its
  predictor, batcher, request interface, alias state); `entity_request` checks a model's
  columnar entities; `model_cache` follows the `champion` and
  `challenger` aliases; `predictor` scores (A/B, shadow); `batcher` scores concurrent requests
  together; `scoring` picks each version's fast path (`fast_trees`: Treelite; `fast_linear`,
  `fast_simple`: NumPy), proven equal on `scoring_probe` rows; `online_features` /
  `direct_features` read Feast.
- `prediction_log` (+ `log_sqlite`, `log_postgres`, `group_commit`) makes every answer durable
  before it is sent; `log_export` is the Parquet contract the monitoring side reads.
- `batch_scoring` is `keel score`: offline point-in-time features, logged like online answers.

Settings (`KEEL_*`): `API_TOKENS`, `RELOAD_INTERVAL`, `CHALLENGER_SHARE`, `SHADOW`, `MAX_BATCH`,
`MAX_BODY_BYTES`, `DIRECT_ONLINE_READS`, `WORKERS`.
"""
