"""The instances a stack's endpoints hold, per variant and per instance type, from its settings.

Each instance-backed variant is sized as the program sizes it (``infra.components.model_endpoint``):

- a new fleet starts at ``scaling.min_instances`` (the variant's initial instance count), which
  is also where every endpoint update starts the new fleet;
- production variants (champion, challenger) of an autoscaled model are scalable targets with
  the scaling range, moved by its schedules (``infra.capacity.schedule_hours``); a shadow variant
  is not a scalable target and stays at its initial count;
- **floor**: the lowest minimum any range allows; **ceiling**: the highest maximum;
  **scheduled**: the week's average minimum as the schedules move it (the floor without them).

**Peak during an update.** Every endpoint update is a blue/green deployment: SageMaker
provisions a new fleet with the update (the green fleet), shifts traffic to it, and terminates
the old (blue) fleet only after the last baking period (SageMaker developer guide, "Blue/Green
Deployments"; the program configures a ``BlueGreenUpdatePolicy`` for every strategy, so never
a rolling deployment, which would add only one batch at a time: "Use rolling deployments").
So while an update runs, a variant's old fleet (up to its ceiling, wherever autoscaling has
taken it) runs beside its new one, which starts at the initial count. An endpoint that is
replaced (a new name) is created before the old one is deleted, which holds the same two
fleets. ``pulumi up`` updates the stack's endpoints in parallel (its ``--parallel`` default is
unbounded), so the peaks of one stack add up.

Serverless models hold no instances: they are listed apart with their memory and concurrency.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from infra import naming
from infra.capacity.schedule_hours import ScheduleHours, schedule_hours
from infra.settings.schema import EnvironmentSettings, ModelSettings


@dataclass(frozen=True)
class VariantCapacity:
    model: str
    variant: str
    instance_type: str
    initial: int
    floor: int
    ceiling: int
    # The week's average minimum, and the hours each range holds when schedules apply.
    scheduled: float
    schedule: ScheduleHours | None = None

    @property
    def update_peak(self) -> int:
        """Instances while this variant is updated: its old fleet at the ceiling, its new one
        at the initial count."""
        return self.ceiling + self.initial


@dataclass(frozen=True)
class ServerlessCapacity:
    model: str
    memory_mb: int
    max_concurrency: int
    provisioned_concurrency: int | None


@dataclass(frozen=True)
class TypeCapacity:
    """One instance type's instances over a stack: sums over its variants."""

    instance_type: str
    floor: int
    ceiling: int
    scheduled: float
    update_peak: int


@dataclass(frozen=True)
class StackCapacity:
    stack: str
    region: str
    variants: tuple[VariantCapacity, ...]
    serverless: tuple[ServerlessCapacity, ...]

    @property
    def instance_types(self) -> list[str]:
        return sorted({v.instance_type for v in self.variants})

    def of_model(self, model: str) -> list[VariantCapacity]:
        return [v for v in self.variants if v.model == model]

    def by_type(self) -> dict[str, TypeCapacity]:
        """Per instance type, every figure summed over its variants."""
        totals: dict[str, TypeCapacity] = {}
        for v in self.variants:
            known = totals.get(v.instance_type)
            totals[v.instance_type] = TypeCapacity(
                v.instance_type,
                floor=v.floor + (known.floor if known else 0),
                ceiling=v.ceiling + (known.ceiling if known else 0),
                scheduled=v.scheduled + (known.scheduled if known else 0.0),
                update_peak=v.update_peak + (known.update_peak if known else 0),
            )
        return dict(sorted(totals.items()))


def stack_capacity(stack: str, settings: EnvironmentSettings) -> StackCapacity:
    variants: list[VariantCapacity] = []
    serverless: list[ServerlessCapacity] = []
    for name, model in settings.models.items():
        if model.serverless is not None:
            serverless.append(
                ServerlessCapacity(
                    name,
                    model.serverless.memory_mb,
                    model.serverless.max_concurrency,
                    model.serverless.provisioned_concurrency,
                )
            )
            continue
        variants += _variants(name, model)
    return StackCapacity(stack, settings.region, tuple(variants), tuple(serverless))


def _variants(name: str, model: ModelSettings) -> list[VariantCapacity]:
    assert model.scaling is not None and model.instance_type is not None
    scaling = model.scaling
    initial = scaling.min_instances
    scaled = model.autoscaled
    hours = schedule_hours(scaling) if scaled and scaling.schedules else None
    # The stack file's range holds from registration to a schedule's first run; then every
    # range a schedule may set, even one that holds no hour of the week.
    ranges = [(initial, scaling.max_instances)]
    if scaled:
        ranges += [(s.min_instances, s.max_instances) for s in scaling.schedules]
    production = VariantCapacity(
        name,
        "",
        model.instance_type,
        initial=initial,
        floor=min(low for low, _ in ranges) if scaled else initial,
        ceiling=max(high for _, high in ranges) if scaled else initial,
        scheduled=hours.mean_min if hours else float(initial),
        schedule=hours,
    )
    found = [replace(production, variant=v) for v in naming.production_variants(model)]
    if model.shadow is not None:
        found.append(
            VariantCapacity(
                name,
                naming.SHADOW,
                model.instance_type,
                initial=initial,
                floor=initial,
                ceiling=initial,
                scheduled=float(initial),
            )
        )
    return found
