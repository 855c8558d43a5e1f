"""Routing, validation and error format, driven by AWS's service model (no server needed for most)."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import pytest

from edge_runtime.server.auth import AuthConfig
from edge_runtime.server.errors import ApiError
from edge_runtime.server.model import load_service_model
from edge_runtime.server.protocol import RequestDecoder, WireRequest
from edge_runtime.server.routes import Router
from edge_runtime.server.validation import Validator, compile_pattern

MODEL = load_service_model()


def _sample_path(template: str) -> str:
    return re.sub(r"\{[^}]+\}", "x1", template)


def test_the_model_has_the_22_operations_of_the_api():
    assert len(MODEL.operations) == 22
    assert MODEL.metadata["protocol"] == "rest-json"


@pytest.mark.parametrize("name", sorted(MODEL.operations))
def test_every_operation_routes_to_itself(name):
    operation = MODEL.operations[name]
    found = Router(MODEL).match(operation.method, _sample_path(operation.request_uri))
    assert found.operation.name == name


def test_labels_are_decoded_after_matching_so_an_encoded_arn_stays_one_segment():
    arn = "arn%3Aaws%3Alookoutvision%3Aus-east-1%3A123456789012%3Amodel%2Fp%2F1"
    found = Router(MODEL).match("GET", "/2020-11-20/tags/" + arn)
    assert found.operation.name == "ListTagsForResource"
    assert found.labels == {"resourceArn": "arn:aws:lookoutvision:us-east-1:123456789012:model/p/1"}


def test_unknown_routes_are_refused():
    with pytest.raises(ApiError) as caught:
        Router(MODEL).match("PUT", "/2020-11-20/projects")
    assert caught.value.code == "UnknownOperationException"


def _problems(shape: str, params: dict) -> str:
    with pytest.raises(ApiError) as caught:
        Validator(MODEL).validate(shape, params)
    assert caught.value.code == "ValidationException"
    return caught.value.message


def test_validation_reports_required_length_pattern_enum_and_range_together():
    message = _problems("StartModelPackagingJobRequest", {
        "ProjectName": "p" * 256, "ModelVersion": "0", "Configuration": {"Greengrass": {
            "ComponentName": "bad name!", "S3OutputLocation": {"Bucket": "b"}, "TargetDevice": "jetson_nano"}}})
    assert message.startswith("5 validation errors detected")
    assert "at 'projectName' failed to satisfy constraint: Member must have length less than or equal to 255" in message
    assert "at 'modelVersion' failed to satisfy constraint: Member must satisfy regular expression" in message
    assert "'configuration.greengrass.componentName'" in message
    assert "at 'configuration.greengrass.targetDevice' failed to satisfy constraint: Member must satisfy enum" \
        in message
    assert "'configuration.greengrass.s3OutputLocation.bucket'" in message  # min length 3


def test_validation_checks_integer_ranges_and_required_members():
    assert "greater than or equal to 1" in _problems("ListProjectsRequest", {"MaxResults": 0})
    assert "less than or equal to 100" in _problems("ListProjectsRequest", {"MaxResults": 101})
    assert "Value null at 'projectName'" in _problems("CreateProjectRequest", {})


def test_patterns_match_the_whole_value_and_understand_unicode_classes():
    assert compile_pattern(MODEL.shape("ProjectName")["pattern"]).fullmatch("a-b_c")
    assert not compile_pattern(MODEL.shape("ProjectName")["pattern"]).fullmatch("a b")
    tag_key = compile_pattern(MODEL.shape("TagKey")["pattern"])
    assert tag_key.fullmatch("Größe 12 日本:/=+-@")
    assert not tag_key.fullmatch("semi;colon")


def test_query_strings_are_typed_by_the_model():
    decoder = RequestDecoder(MODEL)
    params = decoder.decode("ListDatasetEntriesRequest", WireRequest(
        {"projectName": "p", "datasetType": "train"},
        {"labeled": ["true"], "maxResults": ["5"], "createdBefore": ["2020-06-23T00:00:00Z"]}, {}, b""))
    assert params["Labeled"] is True and params["MaxResults"] == 5
    assert params["BeforeCreationDate"] == 1592870400.0
    with pytest.raises(ApiError, match="Member must be an integer"):
        decoder.decode("ListProjectsRequest", WireRequest({}, {"maxResults": ["many"]}, {}, b""))


def test_body_types_are_checked():
    decoder = RequestDecoder(MODEL)
    with pytest.raises(ApiError, match="Member must be a string"):
        decoder.decode("CreateProjectRequest", WireRequest({}, {}, {}, b'{"ProjectName": 5}'))
    with pytest.raises(ApiError, match="JSON object"):
        decoder.decode("CreateProjectRequest", WireRequest({}, {}, {}, b"not json"))


def test_errors_travel_as_botocore_reads_them(lv):
    """Header x-amzn-ErrorType, the status of the error shape, message and modelled fields in the body."""
    with pytest.raises(lv.exceptions.ResourceNotFoundException) as caught:
        lv.describe_project(ProjectName="missing")
    response = caught.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert response["ResourceType"] == "PROJECT" and response["ResourceId"] == "missing"
    assert "missing" in response["Error"]["Message"]


def test_a_pattern_breach_that_the_client_lets_through_is_a_validation_exception(lv):
    with pytest.raises(lv.exceptions.ValidationException, match="regular expression pattern"):
        lv.create_project(ProjectName="has space")


def test_a_length_breach_is_caught_by_the_server_too(api):
    client = api.client(parameter_validation=False)
    with pytest.raises(client.exceptions.ValidationException, match="length greater than or equal to 1"):
        client.create_project(ProjectName="")


def test_unknown_route_answers_in_the_aws_error_format(start_server):
    running = start_server(auth=AuthConfig(enabled=False))
    request = urllib.request.Request(running.url + "/2020-11-20/nothing-here", method="GET")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 404
    assert caught.value.headers["x-amzn-ErrorType"] == "UnknownOperationException"
    assert "nothing-here" in json.loads(caught.value.read())["message"]
