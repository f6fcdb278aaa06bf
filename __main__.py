"""Entry point for ``pulumi up``/``pulumi preview``: read the stack's settings once, then build."""

import gc

import pulumi
from pulumi.runtime.config import CONFIG, get_config_env

from infra.program import define_stack
from infra.settings import SettingsError, decode_runtime_config, load_settings

# The program builds a large graph of long-lived objects (resources, outputs, futures) and then
# exits. The cyclic collector's repeated full passes over that graph cost more than they free:
# with it on, 50 models cost about 55 times one model, with it off about 32 to 36 times
# (bench/plan_scaling.py).
gc.disable()

stack = pulumi.get_stack()
try:
    settings = load_settings(decode_runtime_config({**get_config_env(), **CONFIG.get()}), stack)
except SettingsError as exc:
    # Nothing has been registered yet: an invalid config changes nothing.
    raise pulumi.RunError(str(exc)) from None

for key, value in define_stack(settings).items():
    pulumi.export(key, value)
