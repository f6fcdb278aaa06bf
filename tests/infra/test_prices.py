"""The price file (``infra.capacity.prices``) and ``python -m infra prices refresh``.

Refresh runs against botocore's Stubber with GetProducts responses in the Price List API's own
shape: ``PriceList`` a list of JSON strings, each a product with its ``terms``, paged with
``NextToken``.
"""

from __future__ import annotations

import datetime
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.stub import Stubber

from infra.__main__ import build_parser
from infra.__main__ import main as infra_main
from infra.capacity import prices
from tests.test_command_line import BASH, complete

TODAY = datetime.date(2026, 5, 1)

# --- GetProducts responses, as the Price List API gives them ------------------------------


def product(
    instance: str,
    price: str,
    *,
    region: str = "us-east-1",
    component: str = "Hosting",
    family: str = "ML Instance",
    usage: str | None = None,
    unit: str = "Hrs",
) -> str:
    """One PriceList entry: a JSON string holding a product and its OnDemand terms (AWS Billing
    User Guide, "Finding services and products using AWS Price List Query API")."""
    sku = f"SKU{abs(hash((instance, price, region, component, usage, unit))) % 10**8:08d}"
    prefix = {"us-east-1": "USE1", "eu-west-1": "EU", "eu-central-1": "EUC1"}[region]
    document = {
        "product": {
            "productFamily": family,
            "attributes": {
                "regionCode": region,
                "servicecode": "AmazonSageMaker",
                "servicename": "Amazon SageMaker",
                "location": "US East (N. Virginia)",
                "locationType": "AWS Region",
                "instanceName": instance,
                "instanceType": f"{instance}-{component}",
                "component": component,
                "usagetype": usage or f"{prefix}-Host:{instance}",
                "operation": "RunInstance",
                "vCpu": "4",
                "memory": "16 GiB",
            },
            "sku": sku,
        },
        "serviceCode": "AmazonSageMaker",
        "terms": {
            "OnDemand": {
                f"{sku}.JRTCKXETXF": {
                    "priceDimensions": {
                        f"{sku}.JRTCKXETXF.6YS6EN2CT7": {
                            "unit": unit,
                            "endRange": "Inf",
                            "description": f"${price} per {component} {instance}",
                            "appliesTo": [],
                            "rateCode": f"{sku}.JRTCKXETXF.6YS6EN2CT7",
                            "beginRange": "0",
                            "pricePerUnit": {"USD": price},
                        }
                    },
                    "sku": sku,
                    "effectiveDate": "2026-04-01T00:00:00Z",
                    "offerTermCode": "JRTCKXETXF",
                    "termAttributes": {},
                }
            }
        },
        "version": "20260401000000",
        "publicationDate": "2026-04-01T00:00:00Z",
    }
    return json.dumps(document)


def request(region: str, token: str | None = None) -> dict[str, Any]:
    """The exact GetProducts request refresh must send for ``region``."""
    expected: dict[str, Any] = {
        "ServiceCode": "AmazonSageMaker",
        "Filters": [
            {"Type": "TERM_MATCH", "Field": "regionCode", "Value": region},
            {"Type": "TERM_MATCH", "Field": "productFamily", "Value": "ML Instance"},
            {"Type": "TERM_MATCH", "Field": "component", "Value": "Hosting"},
        ],
        "FormatVersion": "aws_v1",
        "MaxResults": 100,
    }
    if token:
        expected["NextToken"] = token
    return expected


def page(entries: list[str], token: str | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"FormatVersion": "aws_v1", "PriceList": entries}
    if token:
        response["NextToken"] = token
    return response


# us-east-1, two pages: the hosting prices, and products the query may return that are not
# real-time hosting instances' on-demand hourly prices.
US_EAST_1_PAGES = [
    page(
        [
            product("ml.m5.xlarge", "0.2300000000"),
            # training, at another price: must not replace hosting's
            product(
                "ml.m5.xlarge",
                "0.2690000000",
                component="Training",
                usage="USE1-Train:ml.m5.xlarge",
            ),
            # another region's hosting price
            product("ml.g5.xlarge", "1.5500000000", region="eu-central-1"),
            # a price that is not per hour
            product("ml.c5.large", "0.1000000000", unit="Quantity"),
        ],
        token="page-2",
    ),
    page(
        [
            product("ml.g5.xlarge", "1.4080000000"),
            # a zero price (a free tier's dimension)
            product("ml.t2.medium", "0.0000000000"),
            # asynchronous inference and batch transform, under the Hosting component
            product("ml.c5.xlarge", "0.2040000000", usage="USE1-AsyncInf:ml.c5.xlarge"),
            product("ml.r5.large", "0.1510000000", usage="USE1-Tsform:ml.r5.large"),
            # a notebook instance, another product family
            product(
                "ml.t3.medium",
                "0.0500000000",
                family="ML Notebook",
                usage="USE1-Notebk:ml.t3.medium",
            ),
            product("ml.p6-b200.48xlarge", "113.9800000000"),
            # one attribute wrong, each alone: a component, a product family
            product("ml.c5.2xlarge", "0.4080000000", component="Processing"),
            product("ml.c5.4xlarge", "0.8160000000", family="ML Serverless"),
            # a usage type that is not the hosting of the type the product names
            product("ml.c5.9xlarge", "1.8360000000", usage="USE1-Host:ml.c5.9xlarge-Shared"),
        ]
    ),
]
US_EAST_1 = {"ml.g5.xlarge": 1.408, "ml.m5.xlarge": 0.23, "ml.p6-b200.48xlarge": 113.98}


def pricing() -> Any:
    session = botocore.session.get_session()
    return session.create_client(
        "pricing",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def stubbed() -> Iterator[tuple[Any, Stubber]]:
    client = pricing()
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def queue_us_east_1(stub: Stubber) -> None:
    stub.add_response("get_products", US_EAST_1_PAGES[0], request("us-east-1"))
    stub.add_response("get_products", US_EAST_1_PAGES[1], request("us-east-1", "page-2"))


# --- refresh --------------------------------------------------------------------------------


def test_refresh_reads_every_page_and_keeps_only_real_time_hosting_hourly_prices(stubbed):
    client, stub = stubbed
    queue_us_east_1(stub)
    stub.add_response(
        "get_products",
        page([product("ml.m5.xlarge", "0.2560000000", region="eu-west-1")]),
        request("eu-west-1"),
    )
    lines: list[str] = []

    document = prices.refresh(["us-east-1", "eu-west-1"], client, TODAY, progress=lines.append)

    assert document == {
        "currency": "USD",
        "source": prices.SOURCE,
        "fetched": "2026-05-01",
        "regions": {"us-east-1": US_EAST_1, "eu-west-1": {"ml.m5.xlarge": 0.256}},
    }
    assert lines == ["us-east-1: 3 instance types", "eu-west-1: 1 instance types"]


def test_refresh_asks_for_a_region_named_twice_once(stubbed):
    client, stub = stubbed
    queue_us_east_1(stub)
    document = prices.refresh(["us-east-1", "us-east-1"], client, TODAY)
    assert document["regions"] == {"us-east-1": US_EAST_1}


@pytest.mark.parametrize("region", ["us-nowhere-1", "US-EAST-1", "useast1", ""])
def test_refresh_refuses_an_unknown_region_before_any_request(stubbed, region):
    client, _ = stubbed  # a request would find no stubbed response
    with pytest.raises(prices.RefreshError) as caught:
        prices.refresh(["us-east-1", region], client, TODAY)
    assert caught.value.status == 2
    assert str(caught.value).startswith(f"error: --region {region}: not a")
    assert "\n" not in str(caught.value)


def test_refresh_names_the_permission_when_denied(stubbed):
    client, stub = stubbed
    stub.add_client_error(
        "get_products",
        service_error_code="AccessDeniedException",
        service_message="User: arn:aws:iam::123456789012:user/x is not authorized",
        http_status_code=400,
        expected_params=request("us-east-1"),
    )
    with pytest.raises(prices.RefreshError) as caught:
        prices.refresh(["us-east-1"], client, TODAY)
    assert caught.value.status == 1
    assert str(caught.value) == (
        "error: pricing:GetProducts denied (AccessDeniedException: User:"
        " arn:aws:iam::123456789012:user/x is not authorized): the AWS identity needs"
        " pricing:GetProducts (read-only, on resource *) to refresh prices"
    )


def test_refresh_reports_another_failed_request_in_one_line(stubbed):
    client, stub = stubbed
    stub.add_client_error(
        "get_products",
        service_error_code="InvalidParameterException",
        service_message="bad\nfilter",
        http_status_code=400,
    )
    with pytest.raises(prices.RefreshError) as caught:
        prices.refresh(["us-east-1"], client, TODAY)
    assert (caught.value.status, str(caught.value)) == (
        1,
        "error: pricing:GetProducts for us-east-1 failed: InvalidParameterException: bad filter",
    )


def test_refresh_fails_for_a_region_without_hosting_prices(stubbed):
    client, stub = stubbed
    queue_us_east_1(stub)
    # Only products refresh must leave out.
    stub.add_response(
        "get_products",
        page(
            [
                product(
                    "ml.m5.xlarge",
                    "0.3",
                    region="eu-west-1",
                    component="Training",
                    usage="EU-Train:ml.m5.xlarge",
                )
            ]
        ),
        request("eu-west-1"),
    )
    with pytest.raises(prices.RefreshError) as caught:
        prices.refresh(["us-east-1", "eu-west-1"], client, TODAY)
    assert caught.value.status == 1
    assert str(caught.value).startswith(
        "error: eu-west-1: the Price List API lists no on-demand real-time hosting prices"
    )


def test_refresh_refuses_two_prices_for_one_type(stubbed):
    client, stub = stubbed
    stub.add_response(
        "get_products",
        page([product("ml.m5.xlarge", "0.23"), product("ml.m5.xlarge", "0.25")]),
        request("us-east-1"),
    )
    with pytest.raises(prices.RefreshError, match=r"ml\.m5\.xlarge: two on-demand hourly"):
        prices.refresh(["us-east-1"], client, TODAY)


# --- load -----------------------------------------------------------------------------------

GOOD = {
    "currency": "USD",
    "source": "AWS Price List API",
    "fetched": "2026-04-01",
    "regions": {"us-east-1": {"ml.m5.xlarge": 0.23, "ml.g5.xlarge": 1.408}},
}


def write_json(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def with_(**changes: Any) -> dict[str, Any]:
    document = dict(GOOD)
    document.update(changes)
    return document


def test_load_reads_a_price_file(tmp_path):
    loaded = prices.load(write_json(tmp_path / "prices.json", GOOD), today=TODAY)
    assert loaded.currency == "USD"
    assert loaded.fetched == datetime.date(2026, 4, 1)
    assert loaded.path == str(tmp_path / "prices.json")
    assert loaded.hourly("us-east-1", "ml.m5.xlarge") == 0.23
    assert loaded.hourly("us-east-1", "ml.c5.large") is None
    assert loaded.hourly("eu-west-1", "ml.m5.xlarge") is None
    assert loaded.has_region("us-east-1") and not loaded.has_region("eu-west-1")


BAD_DOCUMENTS = {
    "not an object": (
        ["USD"],
        "must be a JSON object with the keys currency, source, fetched, regions, got a list",
    ),
    "missing key": (
        {k: v for k, v in GOOD.items() if k != "fetched"},
        "fetched: missing (a price file has the keys currency, source, fetched, regions)",
    ),
    "extra key": (
        with_(discount=0.1),
        "discount: unknown key (a price file has only the keys currency, source, fetched, regions)",
    ),
    "currency lowercase": (
        with_(currency="usd"),
        "currency: must be a 3-letter currency code such as USD, got 'usd'",
    ),
    "currency number": (
        with_(currency=840),
        "currency: must be a 3-letter currency code such as USD, got 840",
    ),
    "source empty": (
        with_(source=" "),
        "source: must be a text saying where the prices come from, got ' '",
    ),
    "fetched not a date": (
        with_(fetched="yesterday"),
        "fetched: must be the date the prices were fetched, YYYY-MM-DD, got 'yesterday'",
    ),
    "fetched compact date": (
        with_(fetched="20260401"),
        "fetched: must be the date the prices were fetched, YYYY-MM-DD, got '20260401'",
    ),
    "fetched impossible date": (
        with_(fetched="2026-02-30"),
        "fetched: must be the date the prices were fetched, YYYY-MM-DD, got '2026-02-30'",
    ),
    "fetched in the future": (
        with_(fetched="2026-05-02"),
        "fetched: 2026-05-02 is in the future (today is 2026-05-01)",
    ),
    "regions empty": (
        with_(regions={}),
        "regions: must be an object of regions, each an object of instance types and hourly"
        " prices, with at least one region, got {}",
    ),
    "region not a region name": (
        with_(regions={"US East (N. Virginia)": {"ml.m5.xlarge": 0.23}}),
        "regions.US East (N. Virginia): not an AWS region name such as us-east-1",
    ),
    "region unknown": (
        with_(regions={"us-nowhere-1": {"ml.m5.xlarge": 0.23}}),
        "regions.us-nowhere-1: not a region botocore knows (its endpoints data lists every"
        " partition's regions); check the name, or upgrade botocore for a new region",
    ),
    "region not an object": (
        with_(regions={"us-east-1": [0.23]}),
        "regions.us-east-1: must be an object of instance types and their hourly prices,"
        " with at least one, got [0.23]",
    ),
    "type not ml": (
        with_(regions={"us-east-1": {"m5.xlarge": 0.23}}),
        "regions.us-east-1.m5.xlarge: not a SageMaker instance type: must be ml.FAMILY.SIZE",
    ),
    "price a string": (
        with_(regions={"us-east-1": {"ml.m5.xlarge": "x"}}),
        "regions.us-east-1.ml.m5.xlarge: must be a positive number of currency per hour, got 'x'",
    ),
    "price zero": (
        with_(regions={"us-east-1": {"ml.m5.xlarge": 0}}),
        "regions.us-east-1.ml.m5.xlarge: must be a positive number of currency per hour, got 0",
    ),
    "price negative": (
        with_(regions={"us-east-1": {"ml.m5.xlarge": -0.23}}),
        "regions.us-east-1.ml.m5.xlarge: must be a positive number of currency per hour, got -0.23",
    ),
    "price a boolean": (
        with_(regions={"us-east-1": {"ml.m5.xlarge": True}}),
        "regions.us-east-1.ml.m5.xlarge: must be a positive number of currency per hour, got true",
    ),
    "price null": (
        with_(regions={"us-east-1": {"ml.m5.xlarge": None}}),
        "regions.us-east-1.ml.m5.xlarge: must be a positive number of currency per hour, got null",
    ),
}


@pytest.mark.parametrize("case", BAD_DOCUMENTS)
def test_load_refuses_a_bad_document_naming_the_key_path(tmp_path, case):
    document, problem = BAD_DOCUMENTS[case]
    path = write_json(tmp_path / "prices.json", document)
    with pytest.raises(prices.PricesError) as caught:
        prices.load(path, today=TODAY)
    assert str(caught.value) == f"error: {path}: {problem}"


@pytest.mark.parametrize(
    "text, problem",
    [
        (
            '{"currency": "USD",',
            "not JSON: Expecting property name enclosed in double quotes (line 1, column 20)",
        ),
        ("", "not JSON: Expecting value (line 1, column 1)"),
        (
            '{"currency": "USD", "source": "s", "fetched": "2026-04-01",'
            ' "regions": {"us-east-1": {"ml.m5.xlarge": NaN}}}',
            "regions.us-east-1.ml.m5.xlarge: must be a positive number of currency per hour,"
            " got NaN",
        ),
        (
            '{"currency": "USD", "source": "s", "fetched": "2026-04-01", "regions":'
            ' {"us-east-1": {"ml.m5.xlarge": 0.23, "ml.m5.xlarge": 0.3}}}',
            "key 'ml.m5.xlarge' appears twice in one object",
        ),
    ],
    ids=["truncated", "empty", "nan", "duplicate key"],
)
def test_load_refuses_a_file_that_is_not_json_or_not_plain_json(tmp_path, text, problem):
    path = tmp_path / "prices.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(prices.PricesError) as caught:
        prices.load(path, today=TODAY)
    assert str(caught.value) == f"error: {path}: {problem}"


def test_load_refuses_a_missing_file_a_folder_and_bytes_that_are_not_text(tmp_path):
    cases = {
        tmp_path / "missing.json": "no such file",
        tmp_path: "is a folder, not a price file",
    }
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe{}")
    cases[binary] = "not UTF-8 text"
    for path, problem in cases.items():
        with pytest.raises(prices.PricesError) as caught:
            prices.load(path, today=TODAY)
        assert str(caught.value) == f"error: {path}: {problem}"


# --- given, and the age warning -------------------------------------------------------------


def test_given_prefers_the_option_then_the_variable_then_nothing(tmp_path):
    option = write_json(tmp_path / "option.json", GOOD)
    variable = write_json(tmp_path / "variable.json", with_(currency="EUR"))
    environ = {prices.ENVIRONMENT_VARIABLE: str(variable)}

    chosen = prices.given(str(option), environ)
    assert chosen is not None and chosen.path == str(option) and chosen.currency == "USD"
    chosen = prices.given(None, environ)
    assert chosen is not None and chosen.path == str(variable) and chosen.currency == "EUR"
    assert prices.given(None, {}) is None
    assert prices.given(None, {prices.ENVIRONMENT_VARIABLE: ""}) is None


def test_given_says_the_variable_named_a_bad_file(tmp_path):
    missing = tmp_path / "missing.json"
    with pytest.raises(prices.PricesError) as caught:
        prices.given(None, {prices.ENVIRONMENT_VARIABLE: str(missing)})
    assert str(caught.value) == f"error: {missing}: no such file (the file MLSERVE_PRICES names)"


def test_the_age_warning_starts_after_90_days():
    loaded = prices.Prices(
        currency="USD",
        source="s",
        fetched=datetime.date(2026, 1, 1),
        regions={"us-east-1": {"ml.m5.xlarge": 0.23}, "eu-west-1": {"ml.m5.xlarge": 0.256}},
        path="prices.json",
    )
    assert prices.MAX_AGE_DAYS == 90
    assert loaded.age_warning(datetime.date(2026, 1, 1) + datetime.timedelta(days=90)) is None
    assert loaded.age_warning(datetime.date(2026, 1, 1) + datetime.timedelta(days=91)) == (
        "warning: prices.json: prices fetched 2026-01-01, 91 days ago (over 90): refresh with"
        " python -m infra prices refresh --region us-east-1 --region eu-west-1 --out prices.json"
    )


# --- write ----------------------------------------------------------------------------------

DOCUMENT = {
    "currency": "USD",
    "source": prices.SOURCE,
    "fetched": "2026-05-01",
    "regions": {"us-east-1": US_EAST_1},
}


def test_write_writes_a_file_load_reads(tmp_path):
    out = tmp_path / "prices.json"
    prices.write(DOCUMENT, out)
    assert json.loads(out.read_text(encoding="utf-8")) == DOCUMENT
    assert prices.load(out, today=TODAY).hourly("us-east-1", "ml.g5.xlarge") == 1.408
    assert stat.S_IMODE(out.stat().st_mode) == 0o644  # not the temporary file's 0600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prices.json"]


def test_write_leaves_the_old_file_whole_when_it_fails(tmp_path, monkeypatch):
    out = tmp_path / "prices.json"
    out.write_text("the old prices\n", encoding="utf-8")

    def fail(source: Any, target: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError):
        prices.write(DOCUMENT, out)
    assert out.read_text(encoding="utf-8") == "the old prices\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prices.json"]


def test_write_refuses_a_document_load_would_refuse(tmp_path):
    out = tmp_path / "prices.json"
    bad = dict(DOCUMENT, regions={"us-east-1": {"ml.m5.xlarge": 0}})
    with pytest.raises(prices.PricesError, match="must be a positive number"):
        prices.write(bad, out)
    assert list(tmp_path.iterdir()) == []


# --- the command line -----------------------------------------------------------------------


@pytest.fixture
def cli_client(monkeypatch, stubbed) -> tuple[Stubber, list[int]]:
    """The command's Price List client, stubbed; the list counts the clients made."""
    client, stub = stubbed
    made: list[int] = []

    def factory() -> Any:
        made.append(1)
        return client

    monkeypatch.setattr(prices, "pricing_client", factory)
    return stub, made


def test_cli_refresh_writes_the_file_and_says_so(tmp_path, monkeypatch, cli_client, capsys):
    stub, _ = cli_client
    queue_us_east_1(stub)
    monkeypatch.chdir(tmp_path)

    assert infra_main(["prices", "refresh", "--region", "us-east-1"]) == 0

    written = json.loads((tmp_path / "prices.json").read_text(encoding="utf-8"))
    assert written["regions"] == {"us-east-1": US_EAST_1}
    assert written["currency"] == "USD"
    assert written["fetched"] == datetime.date.today().isoformat()
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "us-east-1: 3 instance types\nwrote prices.json\n"


def test_cli_refresh_writes_nothing_when_a_region_fails(tmp_path, cli_client, capsys):
    stub, _ = cli_client
    queue_us_east_1(stub)
    stub.add_client_error(
        "get_products", service_error_code="AccessDeniedException", service_message="no"
    )
    out = tmp_path / "prices.json"
    out.write_text("the old prices\n", encoding="utf-8")

    status = infra_main(
        ["prices", "refresh", "--region", "us-east-1", "--region", "eu-west-1", "--out", str(out)]
    )

    assert status == 1
    assert out.read_text(encoding="utf-8") == "the old prices\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prices.json"]
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "us-east-1: 3 instance types"
    assert err[1].startswith("error: pricing:GetProducts denied (AccessDeniedException: no)")
    assert len(err) == 2


def test_cli_refresh_refuses_an_unknown_region_before_making_a_client(tmp_path, cli_client, capsys):
    _, made = cli_client
    out = tmp_path / "prices.json"
    status = infra_main(["prices", "refresh", "--region", "mars-east-1", "--out", str(out)])
    assert (status, made) == (2, [])
    assert capsys.readouterr().err == (
        "error: --region mars-east-1: not a region botocore knows (its endpoints data lists"
        " every partition's regions); check the name, or upgrade botocore for a new region\n"
    )
    assert not out.exists()


@pytest.mark.parametrize("where", ["folder", "missing parent"])
def test_cli_refresh_refuses_an_out_it_cannot_write_before_any_request(
    tmp_path, cli_client, capsys, where
):
    _, made = cli_client
    out = tmp_path if where == "folder" else tmp_path / "nowhere" / "prices.json"
    status = infra_main(["prices", "refresh", "--region", "us-east-1", "--out", str(out)])
    assert (status, made) == (2, [])
    problem = "is a folder" if where == "folder" else "must be a file in a folder that exists"
    assert capsys.readouterr().err == f"error: --out {out}: {problem}\n"


def test_cli_refresh_without_credentials_names_the_permission(tmp_path, monkeypatch, capsys):
    """The real client, with no credentials anywhere: botocore refuses before sending."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    out = tmp_path / "prices.json"

    status = infra_main(["prices", "refresh", "--region", "us-east-1", "--out", str(out)])

    assert status == 1
    assert capsys.readouterr().err == (
        "error: no AWS credentials found: prices refresh calls pricing:GetProducts with the"
        " standard AWS credentials (environment, profile or role) of an identity allowed"
        " pricing:GetProducts\n"
    )
    assert not out.exists()


def test_cli_refresh_needs_a_region(capsys):
    with pytest.raises(SystemExit) as caught:
        infra_main(["prices", "refresh"])
    assert caught.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "python -m infra prices: error: one of the arguments --region --stacks is required"
    )


def test_cli_refresh_with_stacks_prices_the_regions_the_stack_files_name(
    tmp_path, cli_client, capsys
):
    # Every shipped stack file names us-east-1: one region, asked once.
    stub, _ = cli_client
    queue_us_east_1(stub)
    out = tmp_path / "prices.json"
    assert infra_main(["prices", "refresh", "--stacks", "--out", str(out)]) == 0
    stub.assert_no_pending_responses()
    assert list(json.loads(out.read_text(encoding="utf-8"))["regions"]) == ["us-east-1"]


def test_the_parser_default_is_the_module_default():
    args = build_parser().parse_args(["prices", "refresh", "--region", "us-east-1"])
    assert args.out == prices.DEFAULT_OUT


@pytest.mark.skipif(BASH is None, reason="bash is not installed")
def test_completion_offers_prices_refresh_and_its_options():
    assert complete(infra_main, "pri") == ["prices"]
    assert complete(infra_main, "prices", "") == ["refresh"]
    assert complete(infra_main, "prices", "refresh", "--") == [
        "--help",
        "--region",
        "--stacks",
        "--out",
    ]
