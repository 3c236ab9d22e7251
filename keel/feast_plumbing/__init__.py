"""Feast plumbing: opening the store from Keel's settings, the DuckDB
offline store, materialization into Redis, the online key format (written by the
materializer and read by serving, in one module), keel.yaml checked against the registry."""
