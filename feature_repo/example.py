"""The built-in churn example's names, declared once (kept free of imports on purpose).

Keel runs this example when no keel.yaml is found; its generic code reads these names from
here (settings' defaults) or from the model spec and the Feast service, never spells them.
"""

MODEL_NAME = "churn"
FEATURE_SERVICE = "churn_v1"
ENTITY_KEY = "customer_id"
"""The one join key of the example's entity (int64)."""
REQUEST_FIELD = "as_of_unix"
"""The request field of the example's on-demand view."""
LABEL_COLUMN = "churned"
"""The example label table's 0/1 target (`synthetic.churn_labels`)."""
SCORE_COLUMN = "churn_probability"
"""The score's name in the example's answers: `/v1/predict`'s field and `keel score`'s column
(also the score column of prediction-log exports written before the log was generic)."""

# The example's short route, `POST /v1/predict` (settings' `keyed_route`; serving builds the
# request and answer bodies from these names): `{"customer_id": 5}` or `{"customers": [...]}`.
BATCH_FIELD = "customers"
"""The request field holding a batch of `ENTITY_KEY` values."""
ENTITY_NOUN = "customer"
"""What one entity of the example is called in messages (`unknown customer`)."""
