"""The churn repo as Feast's own CLI collects it: module-level Feast objects.

`feast apply` (and `feast plan`) imports every Python file of this directory not listed in
`.feastignore`; the building blocks (entities.py, sources.py, ...) are listed there, so this is
the one module Feast reads. It builds the objects once, at import, from Keel's settings in the
environment (`KEEL_HOME`, `KEEL_PROFILE`, `KEEL_SPARK_FEATURES_URI`): the objects
`keel features apply` registers for the same settings. `keel features env` prints them.

Keel never imports this module: it builds the objects per workspace with `definitions.build`.
"""

from __future__ import annotations

import os

from keel.core.settings import Settings
from keel.feast_plumbing.feature_store import repo_definitions

if not os.environ.get("KEEL_HOME"):
    raise RuntimeError(
        "KEEL_HOME is not set: the churn repo reads its feature tables from Keel's workspace. "
        'Export Keel\'s environment first: eval "$(keel features env)"'
    )

_definitions = repo_definitions(Settings())
(customer,) = _definitions.entities
customer_profile, customer_activity, customer_support = _definitions.feature_views
(customer_derived,) = _definitions.on_demand_views
(churn_v1,) = _definitions.feature_services
