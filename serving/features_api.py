"""`/v1/features`: Feast's `get-online-features`, same request and response shapes."""

from __future__ import annotations

import json
import time
from typing import Any

from feast import FeatureStore
from feast.errors import FeastError, RequestDataNotFoundInEntityRowsException
from feast.feature_server_utils import convert_response_to_dict

from keel.core.errors import InvalidInput, NotFound
from serving.schemas import FeaturesRequest


def online_features_response(store: FeatureStore, body: FeaturesRequest) -> dict[str, Any]:
    """Feast's own response dict; Feast's errors become 404/422 naming the request field."""
    try:
        features: Any = (
            store.get_feature_service(body.feature_service)
            if body.feature_service is not None
            else body.features
        )
        check_request_fields(store, body, _view_names(features))
        response = store.get_online_features(
            features=features, entity_rows=body.entities, full_feature_names=body.full_feature_names
        )
    except RequestDataNotFoundInEntityRowsException as error:  # the caller's omission: 422
        raise InvalidInput(f"entities: {error}") from None
    except FeastError as error:
        field = "feature_service" if body.feature_service is not None else "features"
        if "not exist" in str(error) or "NotFound" in type(error).__name__:
            raise NotFound(f"{field}: {error}") from None
        raise InvalidInput(f"{field}: {error}") from None
    except (ValueError, KeyError, TypeError, IndexError) as error:
        raise InvalidInput(f"entities or features: {error}") from None
    content: dict[str, Any] = convert_response_to_dict(response.proto)
    return content


def _view_names(features: Any) -> set[str]:
    """The (on-demand) feature views a request reads: a service's projections or the views of
    `view:feature` references."""
    if isinstance(features, list):
        return {str(ref).partition(":")[0] for ref in features}
    return {projection.name for projection in features.feature_view_projections}


def check_request_fields(store: FeatureStore, body: FeaturesRequest, views: set[str]) -> None:
    """Refuse (422) a request that lacks a request-time field an on-demand view needs, naming
    the field, the views that need it and how to send it; Feast's own error would be a 404."""
    needed: dict[str, list[str]] = {}
    described: dict[str, str] = {}
    for view in store.list_on_demand_feature_views(allow_cache=True):
        if view.name not in views:
            continue
        for name in view.get_request_data_schema():
            needed.setdefault(name, []).append(view.name)
        for source in view.source_request_sources.values():
            if isinstance(source.schema, list):
                described.update({f.name: f.description.rstrip(".") for f in source.schema})
    missing = sorted(set(needed) - set(body.entities))
    if not missing:
        return
    rows = min(max((len(values) for values in body.entities.values()), default=1), 2) or 1
    now = int(time.time())
    example = {key: values[:2] for key, values in body.entities.items()}
    example.update({name: [now] * rows for name in missing})
    named = "; ".join(
        f"entities.{name} is missing: the on-demand feature view "
        f"{', '.join(sorted(needed[name]))} computes its features from it at request time"
        + (f" ({described[name]})" if described.get(name) else "")
        for name in missing
    )
    raise InvalidInput(
        f"{named}; send one value per entity row beside the join keys, "
        f'e.g. "entities": {json.dumps(example)}'
    )
