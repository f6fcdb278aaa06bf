"""What a stack's endpoints hold and cost: instances per type (floor, ceiling, scheduled, peak
during an update), their monthly cost from a price file, and the account's quotas for them.

Pulumi-free: it reads the settings the program uses (``infra.settings``), so the offline plan, the
plan diff and the release tool compute the same figures."""
