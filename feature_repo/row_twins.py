"""The built-in example's row twins: what `keel serve` may run in place of an on-demand view's
pandas transform, once it is proven equal at start-up (`serving.row_transforms`).

Any Feast repo may hold a `row_twins.py` like this one: `ROW_TWINS` maps an on-demand view's
name to a function of one row (a dict of the view's inputs) that returns a dict of its outputs.
"""

from __future__ import annotations

from feature_repo.on_demand import customer_derived_row

ROW_TWINS = {"customer_derived": customer_derived_row}
