"""`/v1/features`: Feast's `get-online-features`, same request and response shapes."""

from __future__ import annotations

from typing import Any

from feast import FeatureStore
from feast.errors import FeastError
from feast.feature_server_utils import convert_response_to_dict

from keel.errors import InvalidInput, NotFound
from serving.schemas import FeaturesRequest


def online_features_response(store: FeatureStore, body: FeaturesRequest) -> dict[str, Any]:
    """Feast's own response dict; Feast's errors become 404/422 naming the request field."""
    try:
        features: Any = (
            store.get_feature_service(body.feature_service)
            if body.feature_service is not None
            else body.features
        )
        response = store.get_online_features(
            features=features, entity_rows=body.entities, full_feature_names=body.full_feature_names
        )
    except FeastError as error:
        field = "feature_service" if body.feature_service is not None else "features"
        if "not exist" in str(error) or "NotFound" in type(error).__name__:
            raise NotFound(f"{field}: {error}") from None
        raise InvalidInput(f"{field}: {error}") from None
    except (ValueError, KeyError, TypeError, IndexError) as error:
        raise InvalidInput(f"entities or features: {error}") from None
    content: dict[str, Any] = convert_response_to_dict(response.proto)
    return content
