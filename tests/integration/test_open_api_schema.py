"""schemathesis against the Open API (issue #8, I6): cases generated from the OpenAPI
document, sent with a valid token to the app in this test's event loop; no server error,
and every answer documented and matching its schema (status, content type, body)."""

from __future__ import annotations

import asyncio

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from marketplace.parameters.tables import SystemParameter
from tests import factories
from tests.fixtures import delivered_application
from tests.integration.test_open_api import new_client, token_for

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Per operation; 12 operations stay well under a minute on a busy 2-core machine.
EXAMPLES = 30
_HTTPX_KEYS = ("method", "url", "params", "headers", "json", "content", "data", "files")


async def test_generated_requests_get_documented_answers_and_no_server_error(client, world):
    # Rate limiting is tested on its own; here every generated request should reach a route.
    await SystemParameter.insert(
        SystemParameter(key="api_requests_per_minute", value="100000", updated_by="test")
    )
    await delivered_application(client, world)
    await factories.application_in(world, "accepted")
    token = await token_for(client, await new_client(world.staff))
    schema = schemathesis.openapi.from_dict((await client.get("/api/openapi.json")).json())
    loop = asyncio.get_running_loop()

    def send(case: schemathesis.Case) -> httpx.Response:
        kwargs = case.as_transport_kwargs(
            base_url="http://testserver/api", headers={"Authorization": f"Bearer {token}"}
        )
        call = client.request(**{key: kwargs[key] for key in _HTTPX_KEYS if key in kwargs})
        return asyncio.run_coroutine_threadsafe(call, loop).result(timeout=30)

    def run_every_operation() -> int:
        operations = 0
        for result in schema.get_all_operations():
            operation = result.ok()

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy())
            def check(case: schemathesis.Case) -> None:
                case.validate_response(send(case), checks=CHECKS)

            check()
            operations += 1
        return operations

    # Hypothesis is synchronous: it runs in a thread while this loop serves the app.
    assert await asyncio.to_thread(run_every_operation) == 12
