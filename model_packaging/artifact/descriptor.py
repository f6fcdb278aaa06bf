"""model.yaml: what a data scientist writes next to a trained model.

The format is documented in docs/model-packaging.md. It is validated on load in two passes,
each reporting every problem it finds with its key path, in one error:

1. the schema (types, required keys, unknown keys, patterns), by pydantic;
2. rules that relate keys to each other or to the folder (a sample's content type must be one
   the model declares, a ``body_file`` must exist). They run once the schema holds, because
   they need well-typed values to compare.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

from infra.settings.problems import describe, error_path, key_path
from infra.settings.yaml_loader import YamlError, load_yaml
from model_packaging.artifact.paths import CODE_DIR, relative_path_problem
from model_packaging.drift.baseline import format_from_name
from model_packaging.errors import PackagingError

DESCRIPTOR_NAME = "model.yaml"

# The name becomes the Model Package Group name (AWS allows 63 characters); 40 leaves room for
# the prefixes and suffixes the stacks add to endpoint and alarm names.
NAME_PATTERN = r"^[a-z0-9](-*[a-z0-9])*$"
MAX_NAME_LENGTH = 40
SAMPLE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
# Media types are case-insensitive; requiring lowercase keeps matching a plain comparison.
MEDIA_TYPE_PATTERN = r"^[a-z0-9][a-z0-9._+-]*/[a-z0-9][a-z0-9._+-]*$"
ENTRY_POINT_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*\.py$"
REGION_PATTERN = r"^[a-z]{2}(-[a-z]+)+-\d+$"

PREBUILT_FRAMEWORKS = ("sklearn", "xgboost", "pytorch")
DEFAULT_REGIONS = (
    "us-east-1",
    "us-east-2",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-northeast-1",
    "ap-southeast-2",
)


def _check(value: str, pattern: str, error: str, message: str) -> str:
    if not re.fullmatch(pattern, value):
        raise PydanticCustomError(error, message + " (got {value})", {"value": repr(value)})
    return value


class StrictModel(BaseModel):
    """Unknown keys are typos more often than not: refuse them."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class FrameworkVersion(StrictModel):
    """Which serving stack runs the model; recorded as is in the manifest."""

    name: Literal["sklearn", "xgboost", "pytorch", "custom"] = Field(
        description="the serving stack. The first three are SageMaker's prebuilt containers; "
        "their image URI per region is looked up at build with the sagemaker SDK "
        '(`image_uris.retrieve(..., image_scope="inference")`, see [Image URIs](#image-uris))'
    )
    version: str = Field(
        description="the container's framework version. For pickled models, pick the "
        "container whose library version trained the model"
    )
    python_version: str = Field(default="py3", description="the container's Python")

    @field_validator("python_version")
    @classmethod
    def _python_version(cls, value: str) -> str:
        return _check(value, r"^py3\d*$", "python_version", "must look like py3 or py310")


class Framework(FrameworkVersion):
    """``image`` is only for ``custom``: prebuilt images are looked up per region at build."""

    image: str | None = Field(
        default=None, description="the serving image, used as given for every listed region"
    )

    @model_validator(mode="after")
    def _image_matches_name(self) -> Framework:
        if self.name == "custom" and not self.image:
            raise PydanticCustomError("image", "image is required when name is custom")
        if self.name != "custom" and self.image:
            raise PydanticCustomError(
                "image",
                "image is only allowed when name is custom; the {name} image is resolved per "
                "region at build",
                {"name": self.name},
            )
        return self


class ContentTypes(StrictModel):
    """The media types the model's handlers accept and produce; serve enforces them."""

    request: list[str] = Field(
        min_length=1, description="the media types the handlers read; `serve` answers 415 to others"
    )
    response: list[str] = Field(
        min_length=1,
        description="the media types the handlers write, the first being the default; `serve` "
        "answers 406 when an Accept allows none of them",
    )

    @field_validator("request", "response")
    @classmethod
    def _media_types(cls, values: list[str]) -> list[str]:
        for value in values:
            _check(
                value,
                MEDIA_TYPE_PATTERN,
                "media_type",
                "must be a lowercase media type like text/csv",
            )
        if len(set(values)) != len(values):
            raise PydanticCustomError("duplicate", "lists a media type twice")
        return values


class Expected(StrictModel):
    """A sample's expected response: a JSON value (numbers compared with a tolerance) or text.

    ``json`` may legitimately be null, so "given" is read from the fields that were set rather
    than from the value.
    """

    json_: JsonValue = Field(
        default=None,
        alias="json",
        description="the response must parse as JSON and match structurally; numbers (ints "
        "and floats alike) match within `--rel-tolerance` (default 1e-6), and values within "
        "1e-12 of each other always match",
    )
    text: str | None = Field(
        default=None, description="the response, decoded as UTF-8, must be exactly this"
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> Expected:
        given = {"json_", "text"} & self.model_fields_set
        if len(given) != 1:
            raise PydanticCustomError("expected", "needs exactly one of json, text")
        return self

    @property
    def is_json(self) -> bool:
        return "json_" in self.model_fields_set

    @model_serializer
    def _dump(self) -> dict[str, Any]:
        return {"json": self.json_} if self.is_json else {"text": self.text}


class Sample(StrictModel):
    """One request verify sends, with the response the model must give."""

    name: str = Field(description="names the sample in `verify`'s report")
    content_type: str = Field(description="the request's media type")
    accept: str = Field(description="the media type asked for")
    body: JsonValue = Field(
        default=None,
        description="the request body: a string is sent as UTF-8 as is; any other value is "
        "sent as compact JSON",
    )
    body_file: str | None = Field(
        default=None,
        description="instead of `body`: a file of the folder whose bytes are sent (binary is "
        "fine, e.g. `.npy`)",
    )
    expected: Expected = Field(description="the response the model must give")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _check(value, SAMPLE_NAME_PATTERN, "name", "must be letters, digits, '.', '_', '-'")

    @field_validator("content_type", "accept")
    @classmethod
    def _media_type(cls, value: str) -> str:
        return _check(
            value, MEDIA_TYPE_PATTERN, "media_type", "must be a lowercase media type like text/csv"
        )

    @field_validator("body_file")
    @classmethod
    def _body_file(cls, value: str | None) -> str | None:
        problem = value is not None and relative_path_problem(value)
        if problem:
            raise PydanticCustomError(
                "path", "{problem} (got {value})", {"problem": problem, "value": repr(value)}
            )
        return value

    @model_validator(mode="after")
    def _one_body(self) -> Sample:
        if ("body" in self.model_fields_set) == (self.body_file is not None):
            raise PydanticCustomError("body", "needs exactly one of body, body_file")
        return self

    def request_bytes(self, model_dir: Path) -> bytes:
        """The bytes sent on the wire: a file's bytes, a string as UTF-8, anything else as JSON."""
        if self.body_file is not None:
            return (model_dir / self.body_file).read_bytes()
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return json.dumps(self.body, separators=(",", ":")).encode("utf-8")


class BaselineDataset(StrictModel):
    """A sample of the model's training inputs, from which build computes its baseline."""

    path: str = Field(
        description="a sample of the model's training inputs, one column per feature: CSV with "
        "a header row, or JSON Lines (one object per line). build computes the "
        "[data-quality baseline](#data-quality-baseline) from it. Like every file of the folder "
        "it is packaged too, so keep it a sample"
    )
    format: Literal["csv", "jsonl"] | None = Field(
        default=None, description="the file's format, for an extension other than those two"
    )

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        problem = relative_path_problem(value)
        if problem:
            raise PydanticCustomError(
                "path", "{problem} (got {value})", {"problem": problem, "value": repr(value)}
            )
        return value

    @property
    def data_format(self) -> str:
        """``format``, or the one the file's extension names (checked on load)."""
        return self.format or format_from_name(self.path) or "csv"

    def problems(self, model_dir: Path) -> list[str]:
        problems = []
        if not (model_dir / self.path).is_file():
            problems.append(f"baseline.path: no such file {self.path!r}")
        if self.format is None and format_from_name(self.path) is None:
            problems.append(
                f"baseline.path: cannot tell the format of {self.path!r} from its extension; "
                "name it .csv or .jsonl, or set baseline.format to csv or jsonl"
            )
        return problems


class Descriptor(StrictModel):
    """The parsed model.yaml."""

    name: str = Field(
        max_length=MAX_NAME_LENGTH,
        description="the Model Package Group's name, so it must match a group the shared "
        "stack created",
    )
    framework: Framework
    entry_point: str = Field(
        default="inference.py", description="the file in `code/` that holds the handlers"
    )
    content_types: ContentTypes
    regions: list[str] | None = Field(
        default=None, min_length=1, description="the regions to record image URIs for"
    )
    samples: list[Sample] = Field(
        min_length=1, description="the requests `verify` sends, with the answers expected"
    )
    baseline: BaselineDataset | None = Field(
        default=None, description="the dataset of the data-quality baseline"
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _check(
            value, NAME_PATTERN, "name", "must be lowercase letters, digits and inner hyphens"
        )

    @field_validator("entry_point")
    @classmethod
    def _entry_point(cls, value: str) -> str:
        return _check(
            value, ENTRY_POINT_PATTERN, "entry_point", f"must be a .py file name in {CODE_DIR}/"
        )

    @field_validator("regions")
    @classmethod
    def _regions(cls, values: list[str] | None) -> list[str] | None:
        for value in values or ():
            _check(value, REGION_PATTERN, "region", "must be an AWS region like eu-west-1")
        if values is not None and len(set(values)) != len(values):
            raise PydanticCustomError("duplicate", "lists a region twice")
        return values

    @property
    def image_regions(self) -> tuple[str, ...]:
        """The regions to record image URIs for (a sane default set when none are listed)."""
        return tuple(self.regions) if self.regions else DEFAULT_REGIONS

    def consistency_problems(self, model_dir: Path) -> list[str]:
        """Problems that relate keys to each other or to the folder, each with its key path."""
        problems: list[str] = []
        seen: set[str] = set()
        for index, sample in enumerate(self.samples):
            where = f"samples[{index}]"
            if sample.name in seen:
                problems.append(f"{where}.name: duplicate sample name {sample.name!r}")
            seen.add(sample.name)
            if sample.content_type not in self.content_types.request:
                problems.append(
                    f"{where}.content_type: {sample.content_type!r} is not in "
                    f"content_types.request {self.content_types.request}"
                )
            if sample.accept not in self.content_types.response:
                problems.append(
                    f"{where}.accept: {sample.accept!r} is not in "
                    f"content_types.response {self.content_types.response}"
                )
            if sample.body_file is not None and not (model_dir / sample.body_file).is_file():
                problems.append(f"{where}.body_file: no such file {sample.body_file!r}")
            structured = "body" in sample.model_fields_set and not isinstance(sample.body, str)
            if structured and not is_json_media_type(sample.content_type):
                problems.append(
                    f"{where}.body: a structured body is sent as JSON, so content_type must "
                    f"be JSON, not {sample.content_type!r} (or write the body as a string)"
                )
        if self.baseline is not None:
            problems.extend(self.baseline.problems(model_dir))
        return problems


def is_json_media_type(media_type: str) -> bool:
    return media_type == "application/json" or media_type.endswith("+json")


def validation_problems(error: ValidationError, model: type[BaseModel] | None = None) -> list[str]:
    """pydantic's errors as ``key.path: message`` lines, worded as the stack settings are.

    With the ``model`` validated, an unknown key gets the closest allowed one as a suggestion.
    """
    return [
        f"{key_path(error_path(item)) or '(top level)'}: {describe(item, model)}"
        for item in error.errors()
    ]


def problems_error(source: Path | str, problems: list[str]) -> PackagingError:
    """All problems of one file in one single-line error, so a fix can address every one."""
    count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
    return PackagingError(f"{source}: {count}: " + "; ".join(problems))


def load_descriptor(model_dir: Path) -> Descriptor:
    """Read and validate ``model_dir/model.yaml``; every problem is reported in one error."""
    path = model_dir / DESCRIPTOR_NAME
    if not path.is_file():
        raise PackagingError(
            f"{path}: not found; every model folder needs a {DESCRIPTOR_NAME} "
            "(see docs/model-packaging.md)"
        )
    try:
        # A key written twice is refused: YAML would keep the second ``name:`` silently.
        data = load_yaml(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise PackagingError(f"{path}: not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    except YamlError as exc:
        where = f"{key_path(exc.path)}: " if exc.path else "not valid YAML: "
        raise PackagingError(f"{path}: {where}{exc}") from None
    if not isinstance(data, dict):
        raise PackagingError(f"{path}: must be a mapping of keys to values")
    try:
        descriptor = Descriptor.model_validate(data)
    except ValidationError as exc:
        raise problems_error(path, validation_problems(exc, Descriptor)) from None
    problems = descriptor.consistency_problems(model_dir)
    if problems:
        raise problems_error(path, problems)
    return descriptor
