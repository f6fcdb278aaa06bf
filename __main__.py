"""Entry point for ``pulumi up``/``pulumi preview``: read the stack's settings once, then build."""

import gc

import pulumi
from pulumi.runtime.config import CONFIG, get_config_env

from infra.program import define_stack
from infra.settings import SettingsError, decode_runtime_config, load_settings

# The program builds a large graph of long-lived objects (resources, outputs, futures), then
# the process exits. Collections would walk that growing graph again and again: with them,
# 50 models cost about 55 times one model, without them about 26 times (bench/plan_scaling.py).
gc.disable()

stack = pulumi.get_stack()
try:
    settings = load_settings(decode_runtime_config({**get_config_env(), **CONFIG.get()}), stack)
except SettingsError as exc:
    # Nothing has been registered yet: an invalid config changes nothing.
    raise pulumi.RunError(str(exc)) from None

for key, value in define_stack(settings).items():
    pulumi.export(key, value)
