"""The policy pack's entry point: the CLI runs this file to start the analyzer.

``pulumi preview --policy-pack policy`` runs ``python -m pulumi.policy <engine> .`` in this
folder (PulumiPolicy.yaml names the interpreter), which executes this file as ``__main__``.
Constructing ``PolicyPack`` starts the gRPC server the CLI talks to and never returns, so it
happens here and nowhere else; ``check_config_on_configure`` first makes that server refuse a
policy config that lowers a mandatory rule.
"""

import sys
from pathlib import Path

# The CLI's working directory, and the script's sys.path entry, is this folder; the rules
# import ``policy`` and ``infra`` as packages of the project root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

from policy.pack import PACK_NAME, check_config_on_configure, policies  # noqa: E402

check_config_on_configure()
PolicyPack(name=PACK_NAME, policies=policies(), enforcement_level=EnforcementLevel.MANDATORY)
