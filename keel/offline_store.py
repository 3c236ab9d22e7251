"""The name Feast repos give Keel's offline store in feature_store.yaml:
`type: keel.offline_store.KeelDuckDBOfflineStore` (Feast imports the class and, by
its name, `KeelDuckDBOfflineStoreConfig` from this module). The implementation lives
in `keel.feast_plumbing.offline_store`."""

from keel.feast_plumbing.offline_store import (
    KeelDuckDBOfflineStore,
    KeelDuckDBOfflineStoreConfig,
)

__all__ = ["KeelDuckDBOfflineStore", "KeelDuckDBOfflineStoreConfig"]
