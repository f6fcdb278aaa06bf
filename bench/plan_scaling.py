"""How the cost of evaluating the program grows with the number of models in a stack.

Builds a prod config with 1 model and one with 50 (copies of the prod stack file's churn model,
renamed, each pinned to versions of its own Model Package Group), evaluates each under the
offline plan's mocks, and prints the times side by side with the goal: 50 models cost at most
30 times one model. Two measures:

- warm, in this process: imports timed apart and warmed up first, so the one-model run pays
  nothing but its own resources. This is the strict measure of growth per model.
- fresh process per stack: `python -m infra plan --json`, imports included, which is what CI
  and a reviewer pay for each stack.

    venv/bin/python bench/plan_scaling.py [--repeats N] [--models N] [--cold-repeats N]
"""

from __future__ import annotations

import argparse
import copy
import gc
import importlib
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# Run as a script, this folder comes first on the path, and bench/packaging.py would shadow the
# ``packaging`` distribution that pulumi imports.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != HERE]

GOAL = 30.0
TEMPLATE_STACK = "prod"
TEMPLATE_MODEL = "churn"
GROUP_IN_ARN = re.compile(r"(:model-package/)[A-Za-z0-9-]+(/\d+)$")


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def renamed(model: dict[str, Any], name: str) -> dict[str, Any]:
    """The model under a new name: every pinned package must belong to the group of that name."""
    model = copy.deepcopy(model)
    versions = [model["version"]]
    versions += [model[k]["version"] for k in ("challenger", "shadow") if model.get(k)]
    for version in versions:
        if "package" in version:
            version["package"] = GROUP_IN_ARN.sub(rf"\g<1>{name}\g<2>", version["package"])
    return model


def config_with(base: dict[str, Any], count: int) -> dict[str, Any]:
    template = base["mlserve:models"][TEMPLATE_MODEL]
    config = copy.deepcopy(base)
    config["mlserve:models"] = {
        f"{TEMPLATE_MODEL}-{i:02d}": renamed(template, f"{TEMPLATE_MODEL}-{i:02d}")
        for i in range(count)
    }
    return config


class GcClock:
    """Time the cyclic garbage collector spends, to tell it apart from the program's own."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.full_collections = 0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started
            self.full_collections += info["generation"] == 2


def measure(evaluate: Callable[..., Any], config: dict[str, Any], repeats: int) -> dict[str, Any]:
    times, gc_times, full, collects = [], [], [], []
    resources = 0
    for _ in range(repeats):
        # Each run starts from a clean heap, as a fresh `pulumi up` or `python -m infra plan`
        # process does: the garbage of the run before is collected here, untimed, and reported
        # apart. Those processes exit without collecting it (the program turns the collector
        # off), so they never pay it.
        collect_seconds, _ = timed(gc.collect)
        collects.append(collect_seconds)
        clock = GcClock()
        gc.callbacks.append(clock)
        try:
            seconds, plan = timed(lambda: evaluate(config, TEMPLATE_STACK))
        finally:
            gc.callbacks.remove(clock)
        times.append(seconds)
        gc_times.append(clock.seconds)
        full.append(clock.full_collections)
        resources = len(plan.resources)
    return {
        "median": statistics.median(times),
        "min": min(times),
        "gc": statistics.median(gc_times),
        "full": statistics.median(full),
        "resources": resources,
        # collects[0] freed the garbage of whatever ran before; then one per run of this size.
        "garbage": statistics.median([*collects[1:], timed(gc.collect)[0]]),
    }


def measure_cold(config: dict[str, Any], repeats: int) -> float:
    """Median seconds of `python -m infra plan` in a fresh process: what CI pays per stack."""
    import yaml

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"Pulumi.{TEMPLATE_STACK}.yaml"
        path.write_text(yaml.safe_dump({"config": config}, sort_keys=False))
        command = [sys.executable, "-m", "infra", "plan", TEMPLATE_STACK, "--json"]
        command += ["--config-file", str(path)]
        times = []
        for _ in range(repeats):
            seconds, _ = timed(
                lambda: subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
            )
            times.append(seconds)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9, help="timed runs per size (default 9)")
    parser.add_argument("--models", type=int, default=50, help="the large size (default 50)")
    parser.add_argument(
        "--cold-repeats", type=int, default=3, help="fresh-process runs per size (default 3)"
    )
    args = parser.parse_args()

    import_seconds, _ = timed(lambda: importlib.import_module("infra.program"))
    plan_import_seconds, plan_module = timed(lambda: importlib.import_module("infra.review.plan"))
    from infra.settings import read_stack_file

    base = read_stack_file(plan_module.stack_file(TEMPLATE_STACK))
    small, large = config_with(base, 1), config_with(base, args.models)

    print(f"import infra.program: {import_seconds:.3f} s")
    print(f"then infra.review.plan:      {plan_import_seconds:.3f} s")
    first_seconds, _ = timed(lambda: plan_module.evaluate(small, TEMPLATE_STACK))
    # pulumi_aws imports a submodule (sagemaker, s3, ...) on first use, so the first run pays it.
    print(f"first evaluation, 1 model (loads pulumi_aws submodules): {first_seconds:.3f} s")
    print("warming up ...", flush=True)
    plan_module.evaluate(large, TEMPLATE_STACK)

    results = {}
    results_configs = ((1, small), (args.models, large))
    for count, config in results_configs:
        print(f"timing {count} model(s), {args.repeats} runs ...", flush=True)
        results[count] = measure(plan_module.evaluate, config, args.repeats)

    one, many = results[1], results[args.models]
    ratio = many["median"] / one["median"]
    per_model = many["median"] / (args.models * one["median"])
    header = ("models", "resources", "median s", "min s", "of which GC s", "full GCs", "garbage s")
    print()
    print("  ".join(f"{h:>13}" for h in header))
    for count, r in results.items():
        row = (count, r["resources"], f"{r['median']:.3f}", f"{r['min']:.3f}", f"{r['gc']:.3f}")
        print("  ".join(f"{c:>13}" for c in (*row, f"{r['full']:.0f}", f"{r['garbage']:.3f}")))

    n = args.models
    without_gc = (many["median"] - many["gc"]) / (one["median"] - one["gc"])
    # The goal is stated for 50 models; another size gets the same per-model allowance.
    allowance = GOAL / 50
    print()
    print(f"time{n}/time1:               {ratio:.1f}x")
    print(f"time{n}/({n}*time1):           {per_model:.2f} (goal: <= {allowance:.2f})")
    print(f"resources{n}/resources1:     {many['resources'] / one['resources']:.1f}x")
    print(f"time{n}/time1 without GC:    {without_gc:.1f}x")
    per_resource = (many["median"] / many["resources"]) / (one["median"] / one["resources"])
    # Each model adds the same resources, so linear growth shows as a flat cost per resource.
    print(f"cost per resource, {n} vs 1:  {per_resource:.2f}x")
    print(
        "garbage s: collecting one run's garbage afterwards, untimed (a one-shot process never"
        " does)"
    )
    verdict = "holds" if per_model <= allowance else "MISSED"
    print(f"goal, {n} models cost at most {allowance * n:.0f}x one model, warm: {verdict}")

    print()
    print(f"fresh process per stack (python -m infra plan --json), {args.cold_repeats} runs each:")
    cold = {count: measure_cold(config, args.cold_repeats) for count, config in results_configs}
    cold_ratio = cold[n] / cold[1]
    print(f"  1 model: {cold[1]:.2f} s   {n} models: {cold[n]:.2f} s   ratio {cold_ratio:.1f}x")
    verdict = "holds" if cold_ratio <= allowance * n else "MISSED"
    print(f"goal, {n} models cost at most {allowance * n:.0f}x one model, fresh process: {verdict}")
    sdk = sorted(m for m in sys.modules if m == "sagemaker" or m.startswith("sagemaker."))
    print(f"sagemaker SDK imported: {'yes (' + ', '.join(sdk[:5]) + ')' if sdk else 'no'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
