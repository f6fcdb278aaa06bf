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
- ``problems``: how problems are collected and raised.
"""

from infra.settings.defaults import INSTANCE_DEFAULTS, MODEL_DEFAULTS
from infra.settings.limits import LOG_RETENTION_DAYS, SERVERLESS_MEMORY_MB, sagemaker_instance_types
from infra.settings.loading import (
    FOREIGN_NAMESPACES,
    SETTING_KEYS,
    decode_runtime_config,
    load_settings,
    load_stack_file,
    read_stack_file,
)
from infra.settings.problems import SettingsError
from infra.settings.rules import artifact_prefix
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

__all__ = [
    "artifact_prefix",
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
