"""The rule list the pack registers, pinned: its order and each rule's enforcement level.

The CLI lists policies in the order the pack registers them, and a stack's policy config names
rules by name; a rule renamed, dropped, reordered or made advisory is a change to review, not a
side effect of moving code.
"""

from __future__ import annotations

from pulumi_policy import EnforcementLevel

from policy import pack, rules

REGISTERED = [
    ("s3-buckets", "mandatory"),
    ("s3-access-logging", "advisory"),
    ("s3-lifecycle-abort-multipart", "advisory"),
    ("customer-kms-keys", "mandatory"),
    ("log-group-retention", "mandatory"),
    ("log-group-retention-minimum", "advisory"),
    ("kms-key-rotation", "mandatory"),
    ("data-quality-job-encryption", "mandatory"),
    ("iam-no-wildcard-action", "mandatory"),
    ("iam-no-full-access-policies", "mandatory"),
    ("iam-resource-scoping", "mandatory"),
    ("resource-policy-no-wildcard-principal", "mandatory"),
    ("required-tags", "mandatory"),
    ("prod-endpoints", "mandatory"),
    ("alarm-actions-and-dimensions", "mandatory"),
    ("instance-type-allow-list", "mandatory"),
    ("sagemaker-model-network-isolation", "advisory"),
    ("sagemaker-model-in-vpc", "advisory"),
    ("function-log-retention", "mandatory"),
    ("schedule-dead-letter-encryption", "mandatory"),
    ("function-role-no-wildcard-actions", "mandatory"),
]

# The rules that judge the stack as a whole (a StackValidationPolicy); the others judge one
# resource at a time.
STACK_RULES = {
    "s3-buckets",
    "s3-access-logging",
    "prod-endpoints",
    "function-log-retention",
    "schedule-dead-letter-encryption",
    "function-role-no-wildcard-actions",
}


def test_the_rule_list_keeps_its_order_and_levels() -> None:
    assert [(rule.name, rule.enforcement) for rule in rules.RULES] == REGISTERED


def test_the_pack_registers_the_rule_list_in_order() -> None:
    registered = [(p.name, p.enforcement_level) for p in pack.policies()]
    assert registered == [(name, EnforcementLevel(level)) for name, level in REGISTERED]


def test_stack_rules_are_the_pinned_ones() -> None:
    assert {rule.name for rule in rules.RULES if rule.stack_check is not None} == STACK_RULES
