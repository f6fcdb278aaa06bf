"""Per-environment defaults, deep-merged under what a stack file says about each model."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

# ``instance_type`` and ``scaling`` apply only to models that are not serverless.
INSTANCE_DEFAULTS: dict[str, dict[str, Any]] = {
    "dev": {"instance_type": "ml.t2.medium", "scaling": {"min_instances": 1, "max_instances": 1}},
    "staging": {
        "instance_type": "ml.m5.large",
        "scaling": {"min_instances": 1, "max_instances": 2},
    },
    "prod": {"instance_type": "ml.m5.large", "scaling": {"min_instances": 2, "max_instances": 4}},
}
MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    "dev": {
        # All at once with nothing to watch: no baking period, so nothing could roll back.
        "deployment": {
            "strategy": "all_at_once",
            "wait_seconds": 0,
            "termination_wait_seconds": 0,
            "auto_rollback": False,
        },
        "data_capture": {"enabled": False},
        # Drift monitoring analyses captured requests, which dev does not capture.
        "drift": {"enabled": False},
        "log_retention_days": 7,
    },
    "staging": {
        # The baking period is as long as the default rollback alarms take to fire (rules).
        "deployment": {"strategy": "all_at_once", "wait_seconds": 300},
        "data_capture": {"enabled": True, "sampling_percent": 50},
        # One analysis a day: each runs a processing instance, and staging's drift is a preview.
        "drift": {"enabled": True, "schedule": "daily"},
        "log_retention_days": 30,
    },
    "prod": {
        # Half of the default two-instance fleet: the smallest step that is a whole instance.
        "deployment": {
            "strategy": "canary",
            "canary_percent": 50,
            "linear_step_percent": 50,
            "wait_seconds": 600,
        },
        "data_capture": {"enabled": True, "sampling_percent": 20},
        "drift": {"enabled": True},
        "log_retention_days": 365,
    },
}
# Serverless endpoints get no deployment configuration: guardrails need instances, so their
# updates are all at once, with no baking period and no termination wait. Nor can they capture
# data, so there is nothing for drift monitoring to analyse.
SERVERLESS_DEFAULTS: dict[str, Any] = {
    "deployment": {"strategy": "all_at_once", "wait_seconds": 0, "termination_wait_seconds": 0},
    "data_capture": {"enabled": False},
    "drift": {"enabled": False},
}


def deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def with_defaults(models: Any, environment: str) -> Any:
    """Each model of ``models`` over its environment's defaults; anything else as it is."""
    if not isinstance(models, Mapping):
        return models  # the schema reports the wrong type
    resolved: dict[str, Any] = {}
    for name, model in models.items():
        if not isinstance(model, Mapping):
            resolved[name] = model
            continue
        defaults = MODEL_DEFAULTS[environment]
        if "serverless" in model:
            defaults = deep_merge(defaults, SERVERLESS_DEFAULTS)
        else:
            defaults = deep_merge(defaults, INSTANCE_DEFAULTS[environment])
        resolved[name] = deep_merge(defaults, model)
    return resolved
