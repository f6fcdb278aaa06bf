"""prune: delete the superseded endpoint configurations and models the program keeps.

The program keeps every endpoint configuration and SageMaker Model it replaces (they are
retained on delete, so that an endpoint that rolls back, or a rollback, still has them:
``infra.components.model_endpoint``). Each one is tagged with ``model`` and ``environment``
(``infra.naming.model_tags``), which is how ``prune`` finds them, in the environment's account and
region (:func:`model_packaging.release.live.environment_client`).

Per model (its ``model`` tag), in creation order, newest first (ListEndpointConfigs promises
no order of its own, so the times are sorted here):

- a configuration an endpoint uses is kept, and so is the one an update in progress moves it to
  (DescribeEndpoint's ``PendingDeploymentSummary``): SageMaker says not to delete a
  configuration in use, or while CreateEndpoint or UpdateEndpoint runs on it (botocore's
  sagemaker model, DeleteEndpointConfig);
- a configuration newer than the newest one in use is kept: it belongs to a deployment in
  progress, or to one that rolled back (``status --check-deployed`` reports those);
- of the older ones, the superseded, the newest ``keep`` (default 1: what a rollback returns
  to) are kept and the rest deleted;
- a Model is deleted when no configuration left (of this program or any other, in the region)
  names it, and it is older than the newest configuration of its model that is left: a newer
  one belongs to a deployment whose configuration does not exist yet.

Nothing is deleted unless asked (``delete=True``): by default the result is the list.
Configurations go first, then the models they named.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from model_packaging.errors import PackagingError
from model_packaging.release import live, stackfile
from model_packaging.store.aws import error_code

CONFIG = "endpoint-config"
MODEL = "model"
DEFAULT_KEEP = 1
# The tags the program puts on every resource of a model's endpoint (infra.naming.base_tags and
# model_tags).
MODEL_TAG = "model"
ENVIRONMENT_TAG = "environment"


@dataclass(frozen=True)
class Item:
    """An endpoint configuration or a Model of the program, and what prune does with it."""

    kind: str  # CONFIG or MODEL
    name: str
    model: str
    """Its ``model`` tag: the model of the stack files it was made for."""
    created: datetime
    keep: str | None = None
    """Why it is kept; None: superseded, deleted."""

    def line(self, deleted: bool = False) -> str:
        verb = "keep" if self.keep else ("deleted" if deleted else "delete")
        why = f": {self.keep}" if self.keep else ""
        return f"{verb} {self.kind} {self.name} ({self.model}, created {_when(self.created)}){why}"


@dataclass(frozen=True)
class Plan:
    """What prune found in an environment, and what it deletes."""

    environment: str
    region: str
    keep: int
    configs: list[Item]
    models: list[Item]
    deleted: bool = False
    missing: list[str] = field(default_factory=list)
    """Items that were gone when their turn to be deleted came."""

    @property
    def doomed(self) -> list[Item]:
        """The superseded items, configurations first."""
        return [item for item in [*self.configs, *self.models] if item.keep is None]

    def lines(self) -> list[str]:
        """Every configuration with what happens to it, then the Models deleted."""
        shown = [*self.configs, *(m for m in self.models if m.keep is None)]
        return [item.line(self.deleted) for item in shown]

    def summary(self) -> str:
        configs = sum(1 for item in self.doomed if item.kind == CONFIG)
        models = len(self.doomed) - configs
        what = f"{_count(configs, 'endpoint configuration')} and {_count(models, 'model')}"
        where = f"{self.environment} ({self.region})"
        if not self.doomed:
            return f"nothing to delete in {where}"
        if self.deleted:
            gone = f"; {len(self.missing)} already gone" if self.missing else ""
            return f"deleted {what} in {where}{gone}"
        if not self.keep:
            kept = "only the configuration in use"
        else:
            kept = f"the configuration in use and the {self.keep} before it"
        return (
            f"dry run: would delete {what} in {where}, keeping per model {kept}; run again"
            " with --delete to delete them"
        )


def prune(
    environment: str,
    *,
    stacks: Path = Path("stacks"),
    keep: int = DEFAULT_KEEP,
    delete: bool = False,
) -> Plan:
    """The superseded configurations and models of ``environment``, deleted if ``delete``."""
    if keep < 0:
        raise PackagingError(f"keep must be 0 or more, got {keep}")
    settings = stackfile.load(stackfile.stack_path(stacks, environment), environment)
    sagemaker = live.environment_client(environment, settings.region)
    configs, models = _survey(sagemaker, environment, keep)
    plan = Plan(environment, settings.region, keep, configs, models)
    if not delete:
        return plan
    missing = []
    for item in plan.doomed:
        if not _delete(sagemaker, environment, item):
            missing.append(item.name)
    return Plan(environment, settings.region, keep, configs, models, True, missing)


# --- what is kept -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Found:
    name: str
    arn: str
    created: datetime


def _survey(sagemaker: Any, environment: str, keep: int) -> tuple[list[Item], list[Item]]:
    with live.querying(environment, "the endpoint configurations", sagemaker):
        every_config = _listed(
            sagemaker, "list_endpoint_configs", "EndpointConfigs", "EndpointConfig"
        )
        ours = {found.name: model for found, model in _tagged(sagemaker, environment, every_config)}
        in_use = _in_use(sagemaker)
    configs: list[Item] = []
    by_model: dict[str, list[_Found]] = {}
    for found in every_config:
        if found.name in ours:
            by_model.setdefault(ours[found.name], []).append(found)
    for model, group in sorted(by_model.items()):
        configs += _judged(model, _newest_first(group), in_use, keep)
    deleted = {item.name for item in configs if item.keep is None}
    with live.querying(environment, "the models", sagemaker):
        named = _models_named(sagemaker, (f for f in every_config if f.name not in deleted))
        every_model = _listed(sagemaker, "list_models", "Models", "Model")
        tagged = list(_tagged(sagemaker, environment, every_model))
    newest_left: dict[str, datetime] = {}
    for item in configs:
        if item.keep is not None and item.created > newest_left.get(item.model, _EARLIEST):
            newest_left[item.model] = item.created
    models = []
    for found, model in sorted(tagged, key=lambda pair: (pair[1], -pair[0].created.timestamp())):
        if found.name in named:
            why: str | None = "named by a configuration that is kept"
        elif found.created >= newest_left.get(model, _LATEST):
            why = "newer than every configuration of its model that is kept"
        else:
            why = None
        models.append(Item(MODEL, found.name, model, found.created, why))
    return configs, models


def _judged(model: str, found: list[_Found], in_use: dict[str, str], keep: int) -> list[Item]:
    """One model's configurations, newest first, each with why it is kept, if it is."""
    used = [f for f in found if f.name in in_use]
    newest_used = used[0].created if used else _LATEST
    judged = []
    kept = 0
    for config in found:
        if config.name in in_use:
            why: str | None = f"in use by {in_use[config.name]}"
        elif config.created > newest_used:
            why = "newer than the configuration in use"
        elif kept < keep:
            kept += 1
            which = "the one" if keep == 1 else f"one of the {keep}"
            why = (
                f"{which} before the one in use"
                if used
                else f"{'the newest' if keep == 1 else f'one of the newest {keep}'};"
                " no endpoint uses any"
            )
        else:
            why = None
        judged.append(Item(CONFIG, config.name, model, config.created, why))
    return judged


def _in_use(sagemaker: Any) -> dict[str, str]:
    """Configuration name -> the endpoint that uses it or moves to it, for every endpoint in the
    region, whoever made it."""
    found: dict[str, str] = {}
    for page in sagemaker.get_paginator("list_endpoints").paginate():
        for summary in page.get("Endpoints", []):
            name = summary["EndpointName"]
            endpoint = sagemaker.describe_endpoint(EndpointName=name)
            found[str(endpoint["EndpointConfigName"])] = name
            pending = (endpoint.get("PendingDeploymentSummary") or {}).get("EndpointConfigName")
            if pending:
                found[str(pending)] = f"{name} (an update in progress)"
    return found


def _models_named(sagemaker: Any, configs: Iterable[_Found]) -> set[str]:
    """The Models the production and shadow variants of ``configs`` name."""
    named: set[str] = set()
    for config in configs:
        described = sagemaker.describe_endpoint_config(EndpointConfigName=config.name)
        for variant in [
            *described.get("ProductionVariants", []),
            *described.get("ShadowProductionVariants", []),
        ]:
            if variant.get("ModelName"):
                named.add(str(variant["ModelName"]))
    return named


def _listed(sagemaker: Any, operation: str, key: str, prefix: str) -> list[_Found]:
    """Every item a List operation pages through, with its ``<prefix>Name``, ``...Arn`` and
    ``CreationTime``."""
    return [
        _Found(str(item[f"{prefix}Name"]), str(item[f"{prefix}Arn"]), item["CreationTime"])
        for page in sagemaker.get_paginator(operation).paginate()
        for item in page.get(key, [])
    ]


def _tagged(
    sagemaker: Any, environment: str, found: Iterable[_Found]
) -> Iterator[tuple[_Found, str]]:
    """The items tagged with ``environment`` and a model, with that model."""
    for item in found:
        pages = sagemaker.get_paginator("list_tags").paginate(ResourceArn=item.arn)
        tags = {tag["Key"]: tag["Value"] for page in pages for tag in page.get("Tags", [])}
        if tags.get(ENVIRONMENT_TAG) == environment and tags.get(MODEL_TAG):
            yield item, tags[MODEL_TAG]


def _newest_first(found: list[_Found]) -> list[_Found]:
    return sorted(found, key=lambda f: (f.created, f.name), reverse=True)


# --- deleting -----------------------------------------------------------------------------


def _delete(sagemaker: Any, environment: str, item: Item) -> bool:
    """Delete one item; False when it was already gone."""
    with live.querying(environment, f"{item.kind} {item.name}", sagemaker):
        try:
            if item.kind == CONFIG:
                sagemaker.delete_endpoint_config(EndpointConfigName=item.name)
            else:
                sagemaker.delete_model(ModelName=item.name)
        except ClientError as exc:
            # SageMaker answers ValidationException "Could not find ..." for a name that does
            # not exist (botocore's sagemaker model declares no not-found error for these).
            if error_code(exc) == "ValidationException" and "could not find" in str(exc).lower():
                return False
            raise
    return True


# --- text ---------------------------------------------------------------------------------

_EARLIEST = datetime.min.replace(tzinfo=UTC)
_LATEST = datetime.max.replace(tzinfo=UTC)


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")
