"""The policy pack: ``pulumi preview --policy-pack policy`` (docs/security.md, "Policy pack").

``rules`` holds every rule as a plain function, ``pack`` wraps them as ``pulumi_policy``
policies; only ``__main__`` builds the ``PolicyPack``, whose constructor starts the analyzer
server the CLI talks to.
"""
