"""Entry point for ``pulumi up``/``pulumi preview``: read the stack's settings once, then build."""

import gc

import pulumi
from pulumi.runtime.config import CONFIG, get_config_env

from infra.program import define_stack
from infra.settings import SettingsError, decode_runtime_config, load_settings

# The program builds a large graph of long-lived objects (resources, outputs, futures). Every
# full garbage collection walks all of it, so with them a stack's cost grows with the square of
# its size (50 models cost about 55 times one model; without them about 30 times, linear in the
# resources: bench/plan_scaling.py). Young collections stay on; the process exits soon after.
young, middle, _ = gc.get_threshold()
gc.set_threshold(young, middle, 1_000_000)

stack = pulumi.get_stack()
try:
    settings = load_settings(decode_runtime_config({**get_config_env(), **CONFIG.get()}), stack)
except SettingsError as exc:
    # Nothing has been registered yet: an invalid config changes nothing.
    raise pulumi.RunError(str(exc)) from None

for key, value in define_stack(settings).items():
    pulumi.export(key, value)
