"""Entry point for ``pulumi up``/``pulumi preview``: read the stack's settings once, then run."""

import gc

import pulumi
from pulumi.runtime.config import CONFIG, get_config_env

from infra import program
from infra.settings import SettingsError, decode_runtime_config, load_settings

# The program builds a large graph of long-lived objects (resources, outputs, futures), then
# the process exits: collections would walk that growing graph again and again, for nothing
# (bench/plan_scaling.py measures it; the README gives the figures).
gc.disable()

try:
    settings = load_settings(
        decode_runtime_config({**get_config_env(), **CONFIG.get()}), pulumi.get_stack()
    )
except SettingsError as exc:
    # Nothing has been registered yet: an invalid config changes nothing.
    raise pulumi.RunError(str(exc)) from None

program.run(settings)
