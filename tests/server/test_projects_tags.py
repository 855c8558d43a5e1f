"""Projects and tags through the real boto3 client: lifecycle, errors, pagination, idempotency, restarts."""

from __future__ import annotations

import pytest


def test_project_lifecycle(lv):
    created = lv.create_project(ProjectName="widgets")["ProjectMetadata"]
    assert created["ProjectArn"] == "arn:aws:lookoutvision:us-east-1:123456789012:project/widgets"
    described = lv.describe_project(ProjectName="widgets")["ProjectDescription"]
    assert described["ProjectName"] == "widgets" and described["Datasets"] == []
    assert described["CreationTimestamp"] == created["CreationTimestamp"]
    assert lv.delete_project(ProjectName="widgets")["ProjectArn"] == created["ProjectArn"]
    assert lv.list_projects()["Projects"] == []


def test_project_errors(lv):
    lv.create_project(ProjectName="p")
    with pytest.raises(lv.exceptions.ConflictException) as caught:
        lv.create_project(ProjectName="p")
    assert caught.value.response["ResourceType"] == "PROJECT"
    for call in (lv.describe_project, lv.delete_project):
        with pytest.raises(lv.exceptions.ResourceNotFoundException):
            call(ProjectName="absent")
    with pytest.raises(lv.exceptions.ValidationException):
        lv.list_projects(MaxResults=101)


def test_list_projects_paginator_walks_every_page(lv):
    names = ["p%02d" % i for i in range(7)]
    for name in names:
        lv.create_project(ProjectName=name)
    pages = list(lv.get_paginator("list_projects").paginate(PaginationConfig={"PageSize": 3}))
    assert [len(p["Projects"]) for p in pages] == [3, 3, 1]
    assert [p["ProjectName"] for page in pages for p in page["Projects"]] == names
    first = lv.list_projects(MaxResults=3)
    assert first["NextToken"]
    with pytest.raises(lv.exceptions.ValidationException, match="NextToken"):
        lv.list_projects(NextToken=first["NextToken"][:-4] + "AAAA")


def test_client_token_makes_create_idempotent_and_refuses_changed_input(lv):
    first = lv.create_project(ProjectName="once", ClientToken="token-1")
    again = lv.create_project(ProjectName="once", ClientToken="token-1")
    assert again["ProjectMetadata"] == first["ProjectMetadata"]
    with pytest.raises(lv.exceptions.ConflictException, match="different parameters"):
        lv.create_project(ProjectName="other", ClientToken="token-1")
    assert [p["ProjectName"] for p in lv.list_projects()["Projects"]] == ["once"]


def test_projects_and_tokens_survive_a_restart(api):
    lv = api.client()
    lv.create_project(ProjectName="a", ClientToken="keep-me")
    lv.create_project(ProjectName="b")
    token = lv.list_projects(MaxResults=1)["NextToken"]
    api.restart()
    lv = api.client()
    assert [p["ProjectName"] for p in lv.list_projects(NextToken=token)["Projects"]] == ["b"]
    assert lv.create_project(ProjectName="a", ClientToken="keep-me")["ProjectMetadata"]["ProjectName"] == "a"


def test_tag_operations_refuse_non_model_arns_and_missing_models(lv):
    lv.create_project(ProjectName="p")
    project_arn = "arn:aws:lookoutvision:us-east-1:123456789012:project/p"
    missing_model = "arn:aws:lookoutvision:us-east-1:123456789012:model/p/7"
    with pytest.raises(lv.exceptions.ValidationException, match="model ARN"):
        lv.tag_resource(ResourceArn=project_arn, Tags=[{"Key": "a", "Value": "b"}])
    with pytest.raises(lv.exceptions.ResourceNotFoundException):
        lv.tag_resource(ResourceArn=missing_model, Tags=[{"Key": "a", "Value": "b"}])
    with pytest.raises(lv.exceptions.ResourceNotFoundException):
        lv.untag_resource(ResourceArn=missing_model, TagKeys=["a"])
    with pytest.raises(lv.exceptions.ResourceNotFoundException):
        lv.list_tags_for_resource(ResourceArn=missing_model)
    with pytest.raises(lv.exceptions.ValidationException, match="pattern"):
        lv.tag_resource(ResourceArn=missing_model, Tags=[{"Key": "bad;key", "Value": "b"}])
