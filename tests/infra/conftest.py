"""Fixtures for the Pulumi program's tests: every stack file, evaluated once under mocks.

Tests ask for one of these arguments and are run once per matching file in ``stacks/``:

- ``stack``: every stack file;
- ``env_stack``: files of the dev, staging and prod environments;
- ``prod_stack`` / ``dev_stack`` / ``shared_stack``: files of that environment.

The plans come from the ``plans`` mapping, shared by all tests, which evaluates a stack on first
use and keeps the result, so each file is run through the program once per test run.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from infra.review.plan import Plan, evaluate, evaluate_file
from infra.settings import Settings, load_stack_file, read_stack_file
from tests.infra.plan_checks import stack_environment, stack_files

STACK_ARGUMENTS: dict[str, tuple[str, ...] | None] = {
    "stack": None,
    "env_stack": ("dev", "staging", "prod"),
    "prod_stack": ("prod",),
    "dev_stack": ("dev",),
    "shared_stack": ("shared",),
}


def pytest_configure(config: pytest.Config) -> None:
    # pulumi_aws warns about its own deprecated classes as it imports their modules; the
    # program uses none of them.
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning:pulumi_aws")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    for argument, environments in STACK_ARGUMENTS.items():
        if argument in metafunc.fixturenames:
            stacks = [
                stack
                for stack in stack_files()
                if environments is None or stack_environment(stack) in environments
            ]
            metafunc.parametrize(argument, stacks)


class _Cached(Mapping[str, Any]):
    """Builds the value for a stack on first access, then keeps it."""

    def __init__(self, build: Any) -> None:
        self._build = build
        self._values: dict[str, Any] = {}

    def __getitem__(self, stack: str) -> Any:
        if stack not in self._values:
            self._values[stack] = self._build(stack, stack_files()[stack])
        return self._values[stack]

    def __iter__(self) -> Iterator[str]:
        return iter(stack_files())

    def __len__(self) -> int:
        return len(stack_files())


@pytest.fixture(scope="session")
def plans() -> Mapping[str, Plan]:
    """Stack name -> what the real program registers for that stack file, under mocks."""
    return _Cached(lambda stack, path: evaluate_file(path, stack))


@pytest.fixture(scope="session")
def stack_settings() -> Mapping[str, Settings]:
    """Stack name -> the stack file's typed settings, defaults applied."""
    return _Cached(lambda stack, path: load_stack_file(path, stack))


@pytest.fixture(scope="session")
def stack_configs() -> Mapping[str, dict[str, Any]]:
    """Stack name -> the stack file's config map, as written (``mlserve:models`` ...)."""
    return _Cached(lambda stack, path: read_stack_file(path))


def with_drift_engine(config: Mapping[str, Any], engine: str) -> dict[str, Any]:
    """A stack file's config with every model's drift analysis on ``engine`` (``drift.engine``);
    the shipped stack files leave it at the default, ``mlserve``."""
    changed = copy.deepcopy(dict(config))
    for model in changed.get("mlserve:models", {}).values():
        model.setdefault("drift", {})["engine"] = engine
    return changed


@pytest.fixture(scope="session")
def monitor_plans(stack_configs: Mapping[str, dict[str, Any]]) -> Mapping[str, Plan]:
    """Stack name -> the plan of its stack file with every model on the Model Monitor engine."""
    return _Cached(
        lambda stack, path: evaluate(
            with_drift_engine(stack_configs[stack], "model-monitor"), stack
        )
    )


@pytest.fixture(scope="session")
def monitor_settings(stack_configs: Mapping[str, dict[str, Any]]) -> Mapping[str, Settings]:
    """Stack name -> the settings of ``monitor_plans``' configs."""
    from infra.settings import load_settings

    return _Cached(
        lambda stack, path: load_settings(
            with_drift_engine(stack_configs[stack], "model-monitor"), stack
        )
    )
