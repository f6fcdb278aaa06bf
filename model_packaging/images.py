"""Container image URIs per region, recorded in the manifest at build time.

Prebuilt framework images are looked up with the sagemaker SDK, which knows the account and
repository of every framework version in every region from data files shipped with it (no
network). Resolving at build pins the exact URIs next to the bytes they were verified with.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from model_packaging.descriptor import Framework
from model_packaging.errors import PackagingError

# Image URIs differ by processor type only; any CPU type selects the CPU image.
LOOKUP_INSTANCE_TYPE = "ml.m5.large"


def resolve_images(framework: Framework, regions: Sequence[str], source: Path) -> dict[str, str]:
    """Map each region to the inference image for ``framework``; ``source`` names model.yaml.

    A custom image is used as given for every region: SageMaker pulls it cross-account only
    from the same region, so list just the regions the image is replicated to.
    """
    if framework.name == "custom":
        assert framework.image is not None  # the descriptor guarantees it
        return {region: framework.image for region in regions}

    # Imported here: the SDK takes about two seconds to import, and only builds need it.
    from sagemaker.core import image_uris

    images = {}
    for region in regions:
        try:
            images[region] = image_uris.retrieve(
                framework.name,
                region=region,
                version=framework.version,
                py_version=framework.python_version,
                image_scope="inference",
                instance_type=LOOKUP_INSTANCE_TYPE,
            )
        except ValueError as exc:
            message = " ".join(str(exc).split())
            raise PackagingError(
                f"{source}: no {framework.name} {framework.version} "
                f"{framework.python_version} inference image for {region}: {message}"
            ) from None
    return images
