"""The policy pack: ``pulumi preview --policy-pack policy`` (docs/security.md, "Policy pack").

``rules`` holds every rule, one module per theme, each declared on its check (``model``: what a
rule is and what it judges; ``properties``: reading the engine's properties); ``configuration``
checks the engine's and the stacks' policy configs; ``pack`` wraps the rules as
``pulumi_policy`` policies. Only ``__main__`` builds the ``PolicyPack``, whose constructor starts
the analyzer server the CLI talks to.
"""
