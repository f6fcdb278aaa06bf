"""The price file: hourly on-demand prices of SageMaker real-time hosting instances, per region.

The project ships no prices. A price file is written by ``python -m infra prices refresh`` from the
AWS Price List API with the caller's credentials (:func:`refresh`, :func:`write`), and named with
``--prices FILE`` or ``MLSERVE_PRICES`` (:func:`given`). Its format (JSON)::

    {"currency": "USD", "source": "...", "fetched": "YYYY-MM-DD",
     "regions": {"us-east-1": {"ml.m5.xlarge": 0.23, ...}, ...}}

:func:`load` refuses a file that is not exactly that, with one line naming the file, the key path
and the problem. A file fetched more than :data:`MAX_AGE_DAYS` days ago still loads, with a
warning (:meth:`Prices.age_warning`).

Pulumi-free, and botocore is imported only where it is used, so the offline plan reads a price
file without loading any AWS SDK.
"""

from __future__ import annotations

import datetime
import functools
import json
import math
import os
import re
import stat
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENVIRONMENT_VARIABLE = "MLSERVE_PRICES"
MAX_AGE_DAYS = 90
REFRESH_COMMAND = "python -m infra prices refresh --region REGION --out FILE"
DEFAULT_OUT = "prices.json"

# The Price List Query API's action that refresh calls: read-only, and it supports no
# resource-level permissions, so a policy grants it on "*" (Service Authorization Reference,
# "Actions, resources, and condition keys for AWS Price List").
PERMISSION = "pricing:GetProducts"

# The Price List Query API answers at a few endpoints only, and the endpoint's region has nothing
# to do with the products it prices (AWS Billing User Guide, "Finding services and products using
# AWS Price List Query API": "The AWS Region is the API endpoint for the Price List Query API. The
# endpoints aren't related to product or service attributes"). botocore's endpoints data lists
# us-east-1, eu-central-1 and ap-south-1 for "pricing"
# (botocore.session.get_session().get_available_regions("pricing")); awslabs/llmeter's SageMaker
# cost lookup (llmeter/callbacks/cost/providers/sagemaker.py) uses us-east-1 as well.
PRICING_REGION = "us-east-1"
SERVICE_CODE = "AmazonSageMaker"
# The products of real-time hosting instances: product family "ML Instance", attribute
# "component" "Hosting", and "regionCode" the region (the attribute names and values of the
# AmazonSageMaker offer: GetAttributeValues lists them; awslabs/llmeter's
# fetch_sm_hosting_od_price filters on component "Hosting", instanceName and regionCode with
# unit "Hrs"). Training, processing, notebooks, batch transform, asynchronous and serverless
# inference are other components or families, and their usage types differ (Host:, Train:,
# Notebk:, Tsform:, AsyncInf:, ServerlessInf:): each product is checked again in code
# (_hosting_price), so none of them can leak in whatever the query returns.
PRODUCT_FAMILY = "ML Instance"
COMPONENT = "Hosting"
# A real-time hosting instance's usage type: an optional region prefix ("USE1-"), then
# "Host:" and the instance type, e.g. "USE1-Host:ml.m5.xlarge", where asynchronous inference's
# is "USE1-AsyncInf:ml.m5.xlarge" and batch transform's "USE1-Tsform:ml.m5.xlarge" (the
# "usagetype" attribute of the AmazonSageMaker offer, whose values GetAttributeValues lists;
# billing shows endpoint instance hours under the same usage types).
_HOSTING_USAGE = re.compile(r"^(?:[A-Z0-9]+-)?Host:(ml\..+)$")
# The unit of an hourly price dimension in the Price List's OnDemand terms.
HOURLY_UNIT = "Hrs"
# The Price List API prices the aws partition's regions in US dollars: pricePerUnit {"USD": ...}.
CURRENCY = "USD"
SOURCE = (
    "AWS Price List API (pricing:GetProducts, AmazonSageMaker, ML Instance, component Hosting,"
    " OnDemand Hrs)"
)
# Products per GetProducts page: the most the API returns (botocore pricing model, GetProducts
# MaxResults, 1 to 100).
PAGE_SIZE = 100

KEYS = ("currency", "source", "fetched", "regions")
# ISO 4217 alphabetic codes: three capital letters.
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# An AWS region name: letters, then hyphen-separated words, then a number ("us-east-1",
# "us-gov-west-1", "eusc-de-east-1"), as each partition's regionRegex in botocore's endpoints
# data has it.
_REGION = re.compile(r"^[a-z]{2,4}(-[a-z]+)+-\d+$")
# A SageMaker instance type: "ml.", a family (hyphens included: "ml.p6-b200.48xlarge") and a
# size, as the botocore SageMaker model's ProductionVariantInstanceType values are.
_INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9-]+\.[a-z0-9]+$")


class PricesError(Exception):
    """One line naming the file and what is wrong."""


class RefreshError(Exception):
    """One line saying why prices could not be refreshed; ``status``: the exit status, 2 for a
    bad argument (found before any request), 1 for a request that failed."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Prices:
    currency: str
    source: str
    fetched: datetime.date
    regions: Mapping[str, Mapping[str, float]]
    path: str  # what the user gave, for messages

    def hourly(self, region: str, instance_type: str) -> float | None:
        """The hourly on-demand price of ``instance_type`` in ``region``, if the file has it."""
        return self.regions.get(region, {}).get(instance_type)

    def has_region(self, region: str) -> bool:
        return region in self.regions

    def age_warning(self, today: datetime.date) -> str | None:
        """A warning line when the prices were fetched more than MAX_AGE_DAYS days ago."""
        age = (today - self.fetched).days
        if age <= MAX_AGE_DAYS:
            return None
        return (
            f"warning: {self.path}: prices fetched {self.fetched.isoformat()}, {age} days ago"
            f" (over {MAX_AGE_DAYS}): refresh with {refresh_command(self.regions, self.path)}"
        )


def refresh_command(regions: Sequence[str] | Mapping[str, Any], out: str) -> str:
    """The command that writes prices for ``regions`` to ``out``."""
    flags = " ".join(f"--region {region}" for region in regions) or "--region REGION"
    return f"python -m infra prices refresh {flags} --out {out}"


# --- reading --------------------------------------------------------------------------------


def given(path_option: str | None, environ: Mapping[str, str]) -> Prices | None:
    """The prices the command line names: ``--prices FILE``, else the file ``MLSERVE_PRICES``
    names, else none. An empty ``MLSERVE_PRICES`` counts as unset."""
    if path_option is not None:
        return load(path_option)
    named = environ.get(ENVIRONMENT_VARIABLE, "")
    if not named.strip():
        return None
    try:
        return load(named)
    except PricesError as exc:
        raise PricesError(f"{exc} (the file {ENVIRONMENT_VARIABLE} names)") from None


def load(path: str | Path, *, today: datetime.date | None = None) -> Prices:
    """The prices of the file at ``path``; PricesError when it is not a valid price file.

    ``today`` (default: the local date) is the day after which ``fetched`` is in the future.
    """
    shown = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PricesError(f"error: {shown}: no such file") from None
    except IsADirectoryError:
        raise PricesError(f"error: {shown}: is a folder, not a price file") from None
    except UnicodeDecodeError:
        raise PricesError(f"error: {shown}: not UTF-8 text") from None
    except OSError as exc:
        raise PricesError(f"error: {shown}: cannot read: {exc.strerror}") from None
    try:
        document = json.loads(text, object_pairs_hook=_unique_keys)
    except _DuplicateKey as exc:
        raise PricesError(f"error: {shown}: key {exc.key!r} appears twice in one object") from None
    except json.JSONDecodeError as exc:
        raise PricesError(
            f"error: {shown}: not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    return parse(document, shown, today=today or datetime.date.today())


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object's members; a key given twice is an error (json keeps the last silently)."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def parse(document: Any, shown: str, *, today: datetime.date) -> Prices:
    """The prices a decoded price file holds; PricesError naming ``shown`` and the key path."""

    def fail(where: str, problem: str) -> PricesError:
        return PricesError(f"error: {shown}: {where}: {problem}")

    if not isinstance(document, dict):
        raise PricesError(
            f"error: {shown}: must be a JSON object with the keys {', '.join(KEYS)},"
            f" got {_kind(document)}"
        )
    for key in KEYS:
        if key not in document:
            raise fail(key, f"missing (a price file has the keys {', '.join(KEYS)})")
    for key in document:
        if key not in KEYS:
            raise fail(key, f"unknown key (a price file has only the keys {', '.join(KEYS)})")
    currency = document["currency"]
    if not (isinstance(currency, str) and _CURRENCY.match(currency)):
        raise fail(
            "currency", f"must be a 3-letter currency code such as USD, got {_shown(currency)}"
        )
    source = document["source"]
    if not (isinstance(source, str) and source.strip()):
        raise fail(
            "source", f"must be a text saying where the prices come from, got {_shown(source)}"
        )
    fetched = _date(document["fetched"], today, fail)
    regions = _regions(document["regions"], fail)
    return Prices(currency=currency, source=source, fetched=fetched, regions=regions, path=shown)


def _date(
    value: Any, today: datetime.date, fail: Callable[[str, str], PricesError]
) -> datetime.date:
    problem = f"must be the date the prices were fetched, YYYY-MM-DD, got {_shown(value)}"
    if not (isinstance(value, str) and _DATE.match(value)):
        raise fail("fetched", problem)
    try:
        fetched = datetime.date.fromisoformat(value)
    except ValueError:
        raise fail("fetched", problem) from None
    if fetched > today:
        raise fail("fetched", f"{value} is in the future (today is {today.isoformat()})")
    return fetched


def _regions(value: Any, fail: Callable[[str, str], PricesError]) -> dict[str, dict[str, float]]:
    if not isinstance(value, dict) or not value:
        raise fail(
            "regions",
            "must be an object of regions, each an object of instance types and hourly prices,"
            f" with at least one region, got {_shown(value)}",
        )
    regions: dict[str, dict[str, float]] = {}
    for region, types in value.items():
        problem = region_problem(region)
        if problem:
            raise fail(f"regions.{region}", problem)
        if not isinstance(types, dict) or not types:
            raise fail(
                f"regions.{region}",
                "must be an object of instance types and their hourly prices, with at least"
                f" one, got {_shown(types)}",
            )
        regions[region] = {}
        for instance_type, price in types.items():
            where = f"regions.{region}.{instance_type}"
            if not _INSTANCE_TYPE.match(instance_type):
                raise fail(where, "not a SageMaker instance type: must be ml.FAMILY.SIZE")
            if not _is_price(price):
                raise fail(
                    where, f"must be a positive number of currency per hour, got {_shown(price)}"
                )
            regions[region][instance_type] = float(price)
    return regions


def _is_price(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


def _kind(value: Any) -> str:
    names = {list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def _shown(value: Any) -> str:
    """A value as the message shows it: strings quoted, JSON values as JSON, long ones cut."""
    text = repr(value) if isinstance(value, str) else json.dumps(value, allow_nan=True)
    return text if len(text) <= 60 else text[:57] + "..."


# --- regions --------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def known_regions() -> dict[str, str]:
    """Every region botocore's endpoints data lists, with its partition (botocore/data/
    endpoints.json, partitions[].regions: the data infra.partitions reads too)."""
    import botocore.loaders

    data = botocore.loaders.create_loader().load_data("endpoints")
    return {
        region: str(partition["partition"])
        for partition in data["partitions"]
        for region in partition.get("regions", {})
    }


def region_problem(region: str) -> str | None:
    """Why ``region`` is not an AWS region name, or None."""
    if not _REGION.match(region):
        return "not an AWS region name such as us-east-1"
    if region not in known_regions():
        return (
            "not a region botocore knows (its endpoints data lists every partition's regions);"
            " check the name, or upgrade botocore for a new region"
        )
    return None


# --- refreshing -----------------------------------------------------------------------------


def pricing_client() -> Any:
    """A Price List API client at PRICING_REGION with the standard AWS credentials chain.

    Made with botocore, which the program's own lock pins (boto3 is the release tool's): the
    command runs in either virtualenv. Throttling and transient errors are retried in botocore's
    standard retry mode.
    """
    import botocore.session
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError

    try:
        return botocore.session.get_session().create_client(
            "pricing", region_name=PRICING_REGION, config=Config(retries={"mode": "standard"})
        )
    except BotoCoreError as exc:  # an AWS profile that does not exist, a broken config file
        raise RefreshError(f"error: cannot make a Price List API client: {exc}") from None


def query(region: str) -> dict[str, Any]:
    """The GetProducts parameters (but the page token) that select a region's real-time hosting
    instances (PRODUCT_FAMILY, COMPONENT above). TERM_MATCH "returns only products that match
    both the given filter field and the given value" (botocore pricing model, Filter.Type), the
    type awslabs/llmeter's lookup uses; :func:`_hosting_price` checks each value again exactly."""
    return {
        "ServiceCode": SERVICE_CODE,
        "Filters": [
            {"Type": "TERM_MATCH", "Field": "regionCode", "Value": region},
            {"Type": "TERM_MATCH", "Field": "productFamily", "Value": PRODUCT_FAMILY},
            {"Type": "TERM_MATCH", "Field": "component", "Value": COMPONENT},
        ],
        "FormatVersion": "aws_v1",
        "MaxResults": PAGE_SIZE,
    }


def check_regions(regions: Sequence[str]) -> list[str]:
    """The regions to refresh, each once, in the order given; RefreshError (status 2) naming the
    first that is not an AWS region."""
    if not regions:
        raise RefreshError("error: --region: name at least one region, e.g. --region us-east-1", 2)
    for region in regions:
        problem = region_problem(region)
        if problem:
            raise RefreshError(f"error: --region {region}: {problem}", 2)
    return list(dict.fromkeys(regions))


def refresh(
    regions: Sequence[str],
    client: Any,
    today: datetime.date,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """The price file's document for ``regions``, from pricing:GetProducts through ``client``.

    Every region is checked before any request (RefreshError, status 2). A denied request,
    missing credentials, a failed request, or a region the Price List API has no real-time
    hosting prices for is a RefreshError with status 1. ``progress`` is told each region's count.
    """
    wanted = check_regions(regions)
    prices: dict[str, dict[str, float]] = {}
    for region in wanted:
        found = _region_prices(region, client)
        if not found:
            raise RefreshError(
                f"error: {region}: the Price List API lists no on-demand real-time hosting prices"
                f" of {SERVICE_CODE} there (a region SageMaker hosting does not serve, or one"
                f" the API at {PRICING_REGION} does not price)"
            )
        prices[region] = dict(sorted(found.items()))
        if progress is not None:
            progress(f"{region}: {len(found)} instance types")
    return {
        "currency": CURRENCY,
        "source": SOURCE,
        "fetched": today.isoformat(),
        "regions": prices,
    }


def _region_prices(region: str, client: Any) -> dict[str, float]:
    found: dict[str, float] = {}
    for entry in _price_list(region, client):
        try:
            product = json.loads(entry)
        except (TypeError, ValueError):
            raise RefreshError(
                f"error: {region}: a PriceList entry of GetProducts is not a JSON document"
            ) from None
        hosting = _hosting_price(product, region)
        if hosting is None:
            continue
        instance_type, price = hosting
        if found.get(instance_type, price) != price:
            raise RefreshError(
                f"error: {region}: {instance_type}: two on-demand hourly hosting prices,"
                f" {found[instance_type]} and {price} {CURRENCY}: the Price List API's products"
                " changed shape; no file written"
            )
        found[instance_type] = price
    return found


def _price_list(region: str, client: Any) -> Iterator[str]:
    """Every PriceList entry (a JSON string) of the region's query, page after page."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    parameters = query(region)
    token: str | None = None
    while True:
        request = dict(parameters, NextToken=token) if token else parameters
        try:
            page = client.get_products(**request)
        except NoCredentialsError:
            raise RefreshError(
                f"error: no AWS credentials found: prices refresh calls {PERMISSION} with the"
                " standard AWS credentials (environment, profile or role) of an identity allowed"
                f" {PERMISSION}"
            ) from None
        except ClientError as exc:
            raise RefreshError(_client_error(exc, region)) from None
        except BotoCoreError as exc:
            raise RefreshError(f"error: {PERMISSION} for {region} failed: {exc}") from None
        yield from page.get("PriceList", [])
        token = page.get("NextToken")
        if not token:
            return


# The error codes of a request the caller's identity may not make: GetProducts's own
# (AccessDeniedException, botocore pricing model) and the credentials errors every AWS API
# answers with (AWS API "Common Errors").
_DENIED = {
    "AccessDeniedException",
    "AccessDenied",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "ExpiredTokenException",
}


def _client_error(exc: Any, region: str) -> str:
    error = exc.response.get("Error", {})
    code = error.get("Code", "")
    message = " ".join(str(error.get("Message", "")).split())
    if code in _DENIED:
        return (
            f"error: {PERMISSION} denied ({code}: {message}): the AWS identity needs"
            f" {PERMISSION} (read-only, on resource *) to refresh prices"
        )
    return f"error: {PERMISSION} for {region} failed: {code}: {message}"


def _hosting_price(product: Any, region: str) -> tuple[str, float] | None:
    """The instance type and on-demand hourly price of a real-time hosting product in
    ``region``, or None for any other product (another component, family, region or unit, a
    zero price, a price in another currency)."""
    if not isinstance(product, dict):
        return None
    details = product.get("product", {})
    attributes = details.get("attributes", {}) if isinstance(details, dict) else {}
    if not isinstance(attributes, dict):
        return None
    instance_type = attributes.get("instanceName", "")
    usage = _HOSTING_USAGE.match(str(attributes.get("usagetype", "")))
    if (
        details.get("productFamily") != PRODUCT_FAMILY
        or attributes.get("component") != COMPONENT
        or attributes.get("regionCode") != region
        or not isinstance(instance_type, str)
        or not _INSTANCE_TYPE.match(instance_type)
        or usage is None
        or usage[1] != instance_type
    ):
        return None
    hourly = set(_hourly_prices(product.get("terms", {})))
    if len(hourly) != 1:
        return None
    return instance_type, hourly.pop()


def _hourly_prices(terms: Any) -> Iterator[float]:
    """The positive hourly prices in CURRENCY of a product's OnDemand terms (a Price List
    product: terms.OnDemand.<offer>.priceDimensions.<rate>.{unit, pricePerUnit})."""
    on_demand = terms.get("OnDemand", {}) if isinstance(terms, dict) else {}
    for offer in on_demand.values() if isinstance(on_demand, dict) else ():
        dimensions = offer.get("priceDimensions", {}) if isinstance(offer, dict) else {}
        for dimension in dimensions.values() if isinstance(dimensions, dict) else ():
            if not isinstance(dimension, dict) or dimension.get("unit") != HOURLY_UNIT:
                continue
            per_unit = dimension.get("pricePerUnit")
            text = per_unit.get(CURRENCY) if isinstance(per_unit, dict) else None
            try:
                price = float(text) if isinstance(text, str) else math.nan
            except ValueError:
                continue
            if math.isfinite(price) and price > 0:
                yield price


# --- writing --------------------------------------------------------------------------------


def write(document: Mapping[str, Any], out: Path) -> None:
    """Write ``document`` to ``out`` atomically: a temporary file in the same folder, renamed
    over ``out`` (os.replace) once complete, so ``out`` is either as it was or the whole new
    file. The document is checked as :func:`load` checks a file first: what is written loads."""
    parse(json.loads(json.dumps(document)), str(out), today=datetime.date.max)
    text = json.dumps(document, indent=2, sort_keys=True) + "\n"
    out = Path(out)
    mode = stat.S_IMODE(out.stat().st_mode) if out.is_file() else 0o644
    handle, temporary = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, out)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
