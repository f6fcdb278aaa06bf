"""The policy pack's rules, one module per theme, each rule declared on its check.

``RULES`` is the list the pack registers (``policy/pack.py``), in the order the CLI shows it;
tests/policy/test_rule_list.py pins that order and each rule's enforcement level. The tests run
the rules directly with the offline plan's resources (``Rule.run``).
"""

from __future__ import annotations

from policy.model import Rule
from policy.rules import (
    alarms,
    encryption,
    functions,
    iam,
    instance_types,
    logs,
    network,
    production,
    s3,
    tags,
)

RULES: tuple[Rule, ...] = (
    s3.s3_buckets,
    s3.s3_access_logging,
    s3.s3_lifecycle_abort_multipart,
    encryption.customer_kms_keys,
    logs.log_group_retention,
    logs.log_group_retention_minimum,
    encryption.kms_key_rotation,
    encryption.data_quality_job_encryption,
    iam.iam_no_wildcard_action,
    iam.iam_no_full_access_policies,
    iam.iam_resource_scoping,
    iam.resource_policy_no_wildcard_principal,
    tags.required_tags,
    production.prod_endpoints,
    alarms.alarm_actions_and_dimensions,
    instance_types.instance_type_allow_list,
    network.sagemaker_model_network_isolation,
    network.sagemaker_model_in_vpc,
    functions.function_log_retention,
    functions.schedule_dead_letter_encryption,
    functions.function_role_no_wildcard_actions,
)

RULES_BY_NAME: dict[str, Rule] = {rule.name: rule for rule in RULES}
