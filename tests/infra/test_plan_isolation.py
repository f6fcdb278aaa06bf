"""Evaluations of the offline plan leave nothing behind in the caller's process."""

from __future__ import annotations

import gc

import pulumi

from infra.review.plan import evaluate


def live_outputs() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, pulumi.Output))


def test_an_evaluation_frees_its_resources(stack_configs):
    evaluate(stack_configs["dev"], "dev")
    before = live_outputs()
    for _ in range(3):
        evaluate(stack_configs["dev"], "dev")
    # A shared event loop kept every earlier evaluation's outputs alive.
    assert live_outputs() == before


def test_the_collector_is_handed_back_as_it_was(stack_configs):
    thresholds = gc.get_threshold()
    assert gc.isenabled()
    evaluate(stack_configs["dev"], "dev")
    assert gc.isenabled() and gc.get_threshold() == thresholds
    gc.disable()
    try:
        evaluate(stack_configs["dev"], "dev")
        assert not gc.isenabled()
    finally:
        gc.enable()
