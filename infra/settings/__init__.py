"""Typed stack settings: the one schema of the files in ``stacks/``.

This package is the contract between the Pulumi program (``infra``) and the release tool
(``model_packaging``): the program reads a stack's config through it once, at the top, and the
release tool validates every stack file it writes with the same rules. It therefore imports
neither pulumi nor the sagemaker SDK.

Problems are collected, never raised one at a time: ``load_settings`` reports every problem in
a config at once, each line naming its key path, e.g.
``models.churn.scaling.max_instances: must be >= min_instances (2)``.

Keys of the project namespace (``mlserve:``) are written without the namespace in those paths;
keys of other namespaces keep theirs (``aws:region``).

- ``schema``: the pydantic models, one per section of a stack file;
- ``defaults``: what each environment assumes for a model's unset keys;
- ``loading``: reading stack files and Pulumi's config, validation, ``load_settings``;
- ``rules``: checks across fields, against ``limits``, what AWS and the provider accept;
- ``problems``: how problems are collected and raised;
- ``artifacts``: the artifact contract (names, prefixes, baseline files), plain strings.

The names below are imported on first use, from the module that defines them: importing a
light module (``infra.settings.artifacts``, ``problems``) loads neither the schema nor the
rules, which a release command that never reads a stack file does not need.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from infra.settings.defaults import INSTANCE_DEFAULTS, MODEL_DEFAULTS
    from infra.settings.limits import (
        LOG_RETENTION_DAYS,
        SERVERLESS_MEMORY_MB,
        sagemaker_instance_types,
    )
    from infra.settings.loading import (
        FOREIGN_NAMESPACES,
        SETTING_KEYS,
        decode_runtime_config,
        load_settings,
        load_stack_file,
        read_stack_file,
    )
    from infra.settings.problems import SettingsError
    from infra.settings.schema import (
        ENVIRONMENTS,
        PROJECT,
        SECRET,
        Alarms,
        Alerts,
        AlertSubscription,
        ArtifactStoreSettings,
        Challenger,
        DataCapture,
        Deployment,
        EnvironmentSettings,
        ModelGroup,
        ModelSettings,
        ModelVersion,
        Network,
        Scaling,
        ScheduledScaling,
        Serverless,
        Settings,
        Shadow,
        SharedSettings,
        Strategy,
    )

# The modules that define the public names, lightest first: a name is looked for in each in
# turn, so that resolving one loads no more than its own module needs.
_MODULES = ("problems", "limits", "defaults", "schema", "loading")

__all__ = [
    "ENVIRONMENTS",
    "FOREIGN_NAMESPACES",
    "INSTANCE_DEFAULTS",
    "LOG_RETENTION_DAYS",
    "MODEL_DEFAULTS",
    "PROJECT",
    "SECRET",
    "SERVERLESS_MEMORY_MB",
    "SETTING_KEYS",
    "AlertSubscription",
    "Alarms",
    "Alerts",
    "ArtifactStoreSettings",
    "Challenger",
    "DataCapture",
    "Deployment",
    "EnvironmentSettings",
    "ModelGroup",
    "ModelSettings",
    "ModelVersion",
    "Network",
    "Scaling",
    "ScheduledScaling",
    "Serverless",
    "Settings",
    "SettingsError",
    "Shadow",
    "SharedSettings",
    "Strategy",
    "decode_runtime_config",
    "load_settings",
    "load_stack_file",
    "read_stack_file",
    "sagemaker_instance_types",
]


def __getattr__(name: str) -> Any:
    """A public name, imported from its module on first use (PEP 562)."""
    if name in __all__:
        for module in _MODULES:
            home = importlib.import_module(f"{__name__}.{module}")
            if hasattr(home, name):
                value = getattr(home, name)
                globals()[name] = value
                return value
    # Also how ``from infra.settings import schema`` learns to import the submodule.
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
