"""``status --check-quotas ENV``: can ENV's account run its endpoints' update peak?

Reads ENV's stack file, computes the instances per type an update of every endpoint needs at
its peak (``infra.capacity.fleet``: old fleets at their ceiling beside new fleets at their
initial count), and compares each with the account's Service Quotas value for endpoint usage
of that type (``infra.capacity.quotas``), with ENV's credentials (its profile,
``MLSERVE_PROFILE_<ENV>``, or the default ones) in ENV's region.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.capacity import quotas
from infra.capacity.fleet import stack_capacity
from model_packaging.release import live, stackfile
from model_packaging.release.status import load_environment
from model_packaging.store import aws


@dataclass(frozen=True)
class QuotaReport:
    environment: str
    region: str
    checks: list[quotas.QuotaCheck]
    serverless: list[str]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def lines(self) -> list[str]:
        found = [c.line(self.region) for c in self.checks]
        if not self.checks:
            found.append(f"ok {self.environment}: no instance-backed endpoints, no quota to check")
        found += [
            f"not checked {model}: serverless, it holds no instances" for model in self.serverless
        ]
        return found

    def as_json(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "region": self.region,
            "ok": self.ok,
            "checks": [c.as_json() for c in self.checks],
            "serverless": self.serverless,
        }


def check_quotas(
    environment: str, *, stacks: Path = Path("stacks"), deadline: float = live.DEADLINE_SECONDS
) -> QuotaReport:
    """The update peak of each instance type of ``environment`` against its quota.

    Raises StackFileError for a stack file that cannot be used, ``live.Unreachable`` when the
    account cannot be asked in time, and ``quotas.QuotaError`` when Service Quotas refuses.
    """
    aws.request_timeouts()  # a bad setting is an error before anything is asked
    settings = load_environment(stackfile.stack_path(stacks, environment), environment)
    capacity = stack_capacity(environment, settings)
    need = {t: c.update_peak for t, c in capacity.by_type().items()}

    def ask() -> dict[str, quotas.Quota]:
        client = live.environment_client(environment, settings.region, "service-quotas")
        return quotas.endpoint_quotas(client, sorted(need))

    found = live.within(deadline, environment, ask) if need else {}
    return QuotaReport(
        environment,
        settings.region,
        quotas.check(need, found),
        [s.model for s in capacity.serverless],
    )
