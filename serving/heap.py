"""The server's heap kept out of the cycle collector's full scans.

A full (generation 2) collection walks every tracked object: with Feast, MLflow, scikit-learn
and a model loaded that is 65-70 ms, and under load one came every ~1.3 s, stalling every
request in flight. `settle_heap` moves what is alive now (imports, registry, models) to the
permanent generation (`gc.freeze`), so later collections scan only what requests allocate.
Called once the server is ready, again after the background imports, and after a reload that
changed a served version. Reference counting still frees what it always freed; only cycles
among frozen objects are kept once garbage (a replaced version's, if it had any: reloads follow
alias moves, so this is bounded by how often a champion changes).
"""

from __future__ import annotations

import gc


def settle_heap() -> None:
    """Collect what is garbage now, then freeze every object still alive."""
    gc.collect()
    gc.freeze()
