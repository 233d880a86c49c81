"""Ad-hoc webhook templates and validation, shared by the sandbox and the test fake."""

from __future__ import annotations

import base64
import json

import pytest
from apify_client.errors import InvalidRequestError

from apify_sandbox.runs import ApiError
from apify_sandbox.webhooks import decode_webhooks, render
from tests.apify_sandbox.conftest import client_for

CONTEXT = {
    "eventType": "ACTOR.RUN.SUCCEEDED",
    "resource": {"id": "run1", "stats": {"computeUnits": 0.5}},
}


def encoded(hooks: object) -> str:
    return base64.b64encode(json.dumps(hooks).encode()).decode()


def test_variables_outside_strings_become_json_and_inside_strings_stay_literal() -> None:
    template = '{"run": {{resource.id}}, "stats": {{resource.stats}}, "note": "{{eventType}}"}'

    assert json.loads(render(template, CONTEXT)) == {
        "run": "run1",
        "stats": {"computeUnits": 0.5},
        "note": "{{eventType}}",
    }


def test_interpolation_puts_raw_values_and_text_into_strings() -> None:
    template = r'{"stats": "{{resource.stats}}", "text": "run \"{{resource.id}}\" {{eventType}}"}'

    assert json.loads(render(template, CONTEXT, interpolate=True)) == {
        "stats": {"computeUnits": 0.5},
        "text": 'run "run1" ACTOR.RUN.SUCCEEDED',
    }


def test_a_missing_field_renders_null() -> None:
    assert render("{{resource.nope.deeper}}", CONTEXT) == "null"


@pytest.mark.parametrize(
    "hooks",
    [
        [{"eventTypes": [], "requestUrl": "http://x"}],
        [{"eventTypes": ["ACTOR.RUN.FAILED"]}],
        [
            {
                "eventTypes": ["ACTOR.RUN.FAILED"],
                "requestUrl": "http://x",
                "payloadTemplate": "{{x}}",
            }
        ],
        [{"eventTypes": ["E"], "requestUrl": "http://x", "headersTemplate": '{"X-N": 1}'}],
        {"eventTypes": ["E"], "requestUrl": "http://x"},
    ],
)
def test_invalid_webhooks_are_refused(hooks: object) -> None:
    with pytest.raises(ApiError) as caught:
        decode_webhooks(encoded(hooks))
    assert caught.value.args[:2] == (400, "invalid-parameter")


def test_header_templates_may_use_variables() -> None:
    hooks = [
        {"eventTypes": ["E"], "requestUrl": "u", "headersTemplate": '{"X-Run": {{resource.id}}}'}
    ]
    assert decode_webhooks(encoded(hooks)) == hooks


def test_the_api_refuses_a_template_with_an_unknown_variable(sandbox_factory) -> None:
    sandbox = sandbox_factory()
    hook = {
        "event_types": ["ACTOR.RUN.SUCCEEDED"],
        "request_url": "http://127.0.0.1:9/",
        "payload_template": '{"x": {{secretSauce}}}',
    }

    with pytest.raises(InvalidRequestError):
        client_for(sandbox).actor("a/b").start(run_input={}, webhooks=[hook])
    assert sandbox.runs == {}
