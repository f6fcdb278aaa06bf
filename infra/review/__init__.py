"""Offline review tools: the plan under mocks, plan diffs, replacement rules, touched stacks."""
