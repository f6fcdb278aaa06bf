"""Container image URIs per region, recorded in the manifest at build time.

Prebuilt framework images and the Model Monitor analyzer image are looked up with the sagemaker
SDK, which knows the account and repository of every image in every region from data files
shipped with it (no network). Resolving at build pins the exact URIs next to the bytes they were
verified with.

Importing the SDK takes about two seconds, longer than building a few hundred MB. The answers
depend only on the SDK's data files, so they are cached on disk per SDK release:
``$XDG_CACHE_HOME/mlserve/image-uris-sagemaker-core-<version>.json`` (``~/.cache`` when
``XDG_CACHE_HOME`` is unset). A build whose lookups are all cached never imports the SDK; an
upgraded SDK brings a new file. Only successful lookups are cached, and a cache that cannot be
read or written is ignored: it can cost time, never change a manifest.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from model_packaging.artifact.descriptor import Framework
from model_packaging.errors import PackagingError
from model_packaging.replace_file import replace_file

# Image URIs differ by processor type only; any CPU type selects the CPU image.
LOOKUP_INSTANCE_TYPE = "ml.m5.large"
# The SDK's name for the Model Monitor analyzer image (image_uri_config/model-monitor.json).
MONITOR_FRAMEWORK = "model-monitor"
# The distribution that ships sagemaker.core.image_uris and its data files.
SDK_DISTRIBUTION = "sagemaker-core"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Images:
    """What a build records: ``serving`` (manifest ``images``) and ``monitor``
    (manifest ``monitor_images``), each region -> URI."""

    serving: dict[str, str]
    monitor: dict[str, str]


@dataclass(frozen=True)
class _Lookup:
    """The arguments of one ``image_uris.retrieve`` call."""

    framework: str
    region: str
    version: str | None = None
    py_version: str | None = None
    image_scope: str | None = None
    instance_type: str | None = None

    @property
    def key(self) -> str:
        return "|".join(
            field or ""
            for field in (
                self.framework,
                self.version,
                self.py_version,
                self.image_scope,
                self.instance_type,
                self.region,
            )
        )


def resolve_images(framework: Framework, regions: Sequence[str], source: Path) -> Images:
    """The inference image for ``framework`` and the Model Monitor analyzer image, per region.

    ``source`` names model.yaml in errors. A custom image is used as given for every region:
    SageMaker pulls it cross-account only from the same region, so list just the regions the
    image is replicated to.
    """
    serving = {
        region: _Lookup(
            framework.name,
            region,
            version=framework.version,
            py_version=framework.python_version,
            image_scope="inference",
            instance_type=LOOKUP_INSTANCE_TYPE,
        )
        for region in regions
        if framework.name != "custom"
    }
    monitor = {region: _Lookup(MONITOR_FRAMEWORK, region) for region in regions}
    found = _retrieve([*serving.values(), *monitor.values()], framework, source)
    if framework.name == "custom":
        assert framework.image is not None  # the descriptor guarantees it
        served = {region: framework.image for region in regions}
    else:
        served = {region: found[lookup.key] for region, lookup in serving.items()}
    return Images(served, {region: found[lookup.key] for region, lookup in monitor.items()})


def cache_path() -> Path | None:
    """The cache file of the installed SDK release; None without the SDK's metadata."""
    try:
        version = importlib.metadata.version(SDK_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return None
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mlserve" / f"image-uris-{SDK_DISTRIBUTION}-{version}.json"


def _retrieve(lookups: Iterable[_Lookup], framework: Framework, source: Path) -> dict[str, str]:
    """URI per lookup key: from the cache, and from the SDK for whatever it lacks."""
    path = cache_path()
    cached = _read_cache(path)
    missing = [lookup for lookup in lookups if lookup.key not in cached]
    if not missing:
        return cached

    # Imported here: the SDK takes about two seconds to import, and only cache misses need it.
    from sagemaker.core import image_uris

    found = dict(cached)
    for lookup in missing:
        try:
            found[lookup.key] = image_uris.retrieve(
                lookup.framework,
                region=lookup.region,
                version=lookup.version,
                py_version=lookup.py_version,
                image_scope=lookup.image_scope,
                instance_type=lookup.instance_type,
            )
        except ValueError as exc:
            message = " ".join(str(exc).split())
            if lookup.framework == MONITOR_FRAMEWORK:
                what = "Model Monitor analyzer image"
            else:
                what = (
                    f"{framework.name} {framework.version} {framework.python_version}"
                    " inference image"
                )
            raise PackagingError(f"{source}: no {what} for {lookup.region}: {message}") from None
    if path is not None:
        _write_cache(path, found)
    return found


def _read_cache(path: Path | None) -> dict[str, str]:
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}


def _write_cache(path: Path, table: dict[str, str]) -> None:
    """Replace the cache file whole, so a concurrent build reads the old table or the new one."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(table, sort_keys=True, indent=0)
        replace_file(path, lambda out: out.write(text.encode("utf-8")))
    except OSError as exc:
        log.info("image URI cache %s not written: %s", path, exc)
