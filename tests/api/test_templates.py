"""/v1/templates: CRUD, isolation, scope, preview per channel, and template sends."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from chatgate.domain.keys import KeyMode
from chatgate.storage import messages as message_store
from tests.api.test_validation import assert_envelope
from tests.support import Tenant, auth, gateway, make_key, make_tenant

TO = "+14155550123"
VALUES = {"customer": "Ana", "order": "1234", "total": "19.99"}


def template_body(**changes: Any) -> dict[str, Any]:
    """A template bound for WhatsApp, Kakao, Messenger and Telegram; text elsewhere."""
    body: dict[str, Any] = {
        "name": "order_shipped",
        "language": "en",
        "variables": [
            {"name": "customer", "example": "Ana"},
            {"name": "order"},
            {"name": "total", "type": "currency", "example": "19.99"},
            {"name": "link", "type": "url", "required": False},
        ],
        "body": "Hi {{customer}}, order {{order}} ({{total}}) has shipped.",
        "bindings": {
            "whatsapp": {"name": "order_shipped_v2", "language": "en_US", "body": ["customer"]},
            "kakao": {"template_code": "ORDER_01", "parameters": {"name": "customer"}},
            "messenger": {
                "title": "Order {{order}}",
                "buttons": [{"type": "reply", "title": "Help", "id": "help_{{order}}"}],
            },
            "telegram": {
                "text": "Order {{order}} is on its way",
                "buttons": [{"type": "reply", "title": "Thanks", "id": "thanks"}],
            },
        },
    }
    body.update(changes)
    return body


async def create(client: httpx.AsyncClient, secret: str, **changes: Any) -> dict[str, Any]:
    """A stored template; fails the test if it is not created."""
    response = await client.post(
        "/v1/templates", json=template_body(**changes), headers=auth(secret)
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def send_body(template: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A template send over SMS."""
    return {
        "channel": "sms",
        "to": TO,
        "content": {"type": "template", "template": template},
        **extra,
    }


async def test_create_read_list_change_and_delete_are_audited(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    created = await create(client, tenant.live)
    template_id = created["id"]
    assert template_id.startswith("tpl_")
    assert created["object"] == "template"
    assert created["variables"][2] == {
        "name": "total",
        "type": "currency",
        "required": True,
        "example": "19.99",
    }
    assert created["bindings"]["kakao"] == {
        "template_code": "ORDER_01",
        "parameters": {"name": "customer"},
    }

    # Templates belong to the account: the test key sees the live key's template.
    read = await client.get(f"/v1/templates/{template_id}", headers=auth(tenant.test))
    assert read.status_code == 200
    assert read.json() == created
    listed = await client.get("/v1/templates", headers=auth(tenant.live))
    assert [t["id"] for t in listed.json()["data"]] == [template_id]

    changed = await client.patch(
        f"/v1/templates/{template_id}",
        json={"body": "Order {{order}} shipped, {{customer}}", "bindings": {"telegram": None}},
        headers=auth(tenant.live),
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["body"] == "Order {{order}} shipped, {{customer}}"
    # Only the binding named changed; the others stay.
    assert sorted(changed.json()["bindings"]) == ["kakao", "messenger", "whatsapp"]
    assert changed.json()["updated_at"] >= created["updated_at"]

    deleted = await client.delete(f"/v1/templates/{template_id}", headers=auth(tenant.live))
    assert deleted.status_code == 204
    gone = await client.get(f"/v1/templates/{template_id}", headers=auth(tenant.live))
    assert_envelope(gone, 404, "not_found", "id")

    audit = await client.get("/v1/audit", params={"target": template_id}, headers=auth(tenant.live))
    entries = audit.json()["data"]
    assert [e["action"] for e in entries] == [
        "template.deleted",
        "template.updated",
        "template.created",
    ]
    assert entries[-1]["detail"] == {"name": "order_shipped", "language": "en"}


async def test_list_pages_newest_first_and_filters_by_name(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    ids = [(await create(client, tenant.live, language=lang))["id"] for lang in ("en", "de", "fr")]
    await create(client, tenant.live, name="welcome")
    first = await client.get(
        "/v1/templates", params={"limit": 2, "name": "order_shipped"}, headers=auth(tenant.live)
    )
    page = first.json()
    assert [t["id"] for t in page["data"]] == [ids[2], ids[1]]
    assert page["has_more"] is True
    second = await client.get(
        "/v1/templates",
        params={"limit": 2, "name": "order_shipped", "cursor": page["next_cursor"]},
        headers=auth(tenant.live),
    )
    assert [t["id"] for t in second.json()["data"]] == [ids[0]]
    assert second.json()["has_more"] is False
    assert second.json()["next_cursor"] is None


async def test_a_duplicate_name_and_language_is_a_conflict(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await create(client, tenant.live)
    again = await client.post("/v1/templates", json=template_body(), headers=auth(tenant.live))
    assert_envelope(again, 409, "template_exists", "name")
    other = await create(client, tenant.live, language="pt_BR")
    renamed = await client.patch(
        f"/v1/templates/{other['id']}", json={"language": "en"}, headers=auth(tenant.live)
    )
    assert_envelope(renamed, 409, "template_exists", "name")
    listed = await client.get("/v1/templates", headers=auth(tenant.live))
    assert sorted(t["language"] for t in listed.json()["data"]) == ["en", "pt_BR"]


async def test_undeclared_variables_in_body_or_bindings_are_refused(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    # The parts' agreement has codes of its own; what the schema states is invalid_request.
    cases = [
        (template_body(body="Hi {{nobody}}"), "body", "undeclared_variable"),
        (
            template_body(bindings={"whatsapp": {"name": "t", "body": ["ghost"]}}),
            "bindings.whatsapp.body.0",
            "undeclared_variable",
        ),
        (
            template_body(bindings={"telegram": {"text": "{{ghost}}"}}),
            "bindings.telegram.text",
            "undeclared_variable",
        ),
        (
            template_body(variables=[{"name": "a"}, {"name": "a"}], body="{{a}}", bindings={}),
            "variables.1.name",
            "duplicate_variable",
        ),
        (template_body(bindings={"line": {"text": "hi"}}), "bindings.line", "invalid_request"),
        (
            template_body(variables=[{"name": "x", "type": "money"}]),
            "variables.0.type",
            "invalid_request",
        ),
    ]
    for body, field, code in cases:
        response = await client.post("/v1/templates", json=body, headers=auth(tenant.live))
        assert_envelope(response, 422, code, field)
    created = await create(client, tenant.live)
    patched = await client.patch(
        f"/v1/templates/{created['id']}",
        json={"variables": [{"name": "customer"}]},  # the body still uses order and total
        headers=auth(tenant.live),
    )
    assert_envelope(patched, 422, "undeclared_variable", "body")
    listed = await client.get("/v1/templates", headers=auth(tenant.live))
    assert [t["variables"] for t in listed.json()["data"]] == [created["variables"]]


async def test_another_accounts_template_is_not_found(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    theirs = await create(client, tenant.live)
    intruder = await make_tenant(app)
    path = f"/v1/templates/{theirs['id']}"
    headers = auth(intruder.live)
    assert_envelope(await client.get(path, headers=headers), 404, "not_found", "id")
    patched = await client.patch(path, json={"body": "{{customer}}"}, headers=headers)
    assert_envelope(patched, 404, "not_found", "id")
    assert_envelope(await client.delete(path, headers=headers), 404, "not_found", "id")
    preview = await client.post(
        f"{path}/preview", json={"channel": "sms", "variables": VALUES}, headers=headers
    )
    assert_envelope(preview, 404, "not_found", "id")
    listed = await client.get("/v1/templates", headers=headers)
    assert listed.json()["data"] == []
    # Sending by its id from the other account names no template of that account.
    sent = await client.post(
        "/v1/messages",
        json=send_body({"id": theirs["id"], "variables": VALUES}),
        headers=auth(intruder.test),
    )
    assert_envelope(sent, 422, "unknown_template", "content.template.id")
    still = await client.get(path, headers=auth(tenant.live))
    assert still.json() == theirs


async def test_every_route_needs_templates_manage(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    created = await create(client, tenant.live)
    _, limited = await make_key(
        app, tenant.account_id, KeyMode.LIVE, scopes=frozenset({"messages:send", "messages:read"})
    )
    path = f"/v1/templates/{created['id']}"
    calls = [
        ("GET", "/v1/templates", None),
        ("POST", "/v1/templates", template_body(name="other")),
        ("GET", path, None),
        ("PATCH", path, {"body": "{{customer}}"}),
        ("DELETE", path, None),
        ("POST", f"{path}/preview", {"channel": "sms", "variables": VALUES}),
    ]
    for method, url, body in calls:
        response = await client.request(method, url, json=body, headers=auth(limited))
        assert response.status_code == 403, (method, url, response.text)
        assert "templates:manage" in response.json()["error"]["message"]
    unchanged = await client.get(path, headers=auth(tenant.live))
    assert unchanged.json() == created


async def _preview(
    client: httpx.AsyncClient, secret: str, template_id: str, channel: str, variables: Any
) -> httpx.Response:
    return await client.post(
        f"/v1/templates/{template_id}/preview",
        json={"channel": channel, "variables": variables},
        headers=auth(secret),
    )


async def test_preview_renders_for_each_channel(client: httpx.AsyncClient, tenant: Tenant) -> None:
    template_id = (await create(client, tenant.live))["id"]
    rendered: dict[str, dict[str, Any]] = {}
    for channel in ("whatsapp", "kakao", "messenger", "telegram", "sms"):
        response = await _preview(client, tenant.live, template_id, channel, VALUES)
        assert response.status_code == 200, response.text
        assert response.json()["template_id"] == template_id
        assert response.json()["channel"] == channel
        rendered[channel] = response.json()["content"]
    assert rendered["whatsapp"] == {
        "type": "template",
        "template": {
            "name": "order_shipped_v2",
            "language": "en_US",
            "variables": ["Ana"],
            "buttons": [],
        },
    }
    assert rendered["kakao"]["template"] == {
        "name": "ORDER_01",
        "language": "en",
        "variables": {"name": "Ana"},
        "buttons": [],
    }
    card = rendered["messenger"]["interactive"]["cards"][0]
    assert rendered["messenger"]["interactive"]["kind"] == "cards"
    assert card == {
        "title": "Order 1234",
        "buttons": [{"type": "reply", "title": "Help", "id": "help_1234"}],
    }
    assert rendered["telegram"]["interactive"]["kind"] == "buttons"
    assert rendered["telegram"]["interactive"]["body"] == "Order 1234 is on its way"
    assert rendered["sms"] == {
        "type": "text",
        "text": "Hi Ana, order 1234 (19.99) has shipped.",
        "preview_url": False,
    }


async def test_preview_names_each_bad_variable(client: httpx.AsyncClient, tenant: Tenant) -> None:
    template_id = (await create(client, tenant.live))["id"]
    cases = [
        ({k: v for k, v in VALUES.items() if k != "order"}, "missing_variable", "variables.order"),
        ({**VALUES, "coupon": "X"}, "unknown_variable", "variables.coupon"),
        ({**VALUES, "total": "a lot"}, "invalid_variable", "variables.total"),
        ({**VALUES, "link": "javascript:alert(1)"}, "invalid_variable", "variables.link"),
        (["Ana"], "unknown_variable", "variables.0"),
    ]
    for variables, code, field in cases:
        response = await _preview(client, tenant.live, template_id, "sms", variables)
        assert_envelope(response, 422, code, field)
    not_a_string = await _preview(
        client, tenant.live, template_id, "sms", {**VALUES, "total": 19.99}
    )
    assert_envelope(not_a_string, 422, "invalid_variable", "variables.total")


async def _stored(app: FastAPI, tenant: Tenant, message_id: str) -> Any:
    async with gateway(app).database.read() as conn:
        return await message_store.get_message(conn, tenant.account_id, KeyMode.TEST, message_id)


async def test_a_send_by_id_stores_the_rendered_content(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    created = await create(client, tenant.live)
    response = await client.post(
        "/v1/messages",
        json=send_body({"id": created["id"], "variables": VALUES}),
        headers=auth(tenant.test),
    )
    assert response.status_code == 202, response.text
    text = {"type": "text", "text": "Hi Ana, order 1234 (19.99) has shipped.", "preview_url": False}
    assert response.json()["content"] == text
    read = await client.get(f"/v1/messages/{response.json()['id']}", headers=auth(tenant.test))
    assert read.json()["content"] == text
    stored = await _stored(app, tenant, response.json()["id"])
    assert stored.options["template"] == {
        "id": created["id"],
        "name": "order_shipped",
        "language": "en",
    }


async def test_a_send_by_name_and_language_renders_for_each_step_channel(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await create(client, tenant.live)
    # The fallback step takes the message's content, rendered for its own channel.
    body = send_body(
        {"name": "order_shipped", "language": "en", "variables": VALUES},
        fallback=[{"channel": "whatsapp"}],
    )
    response = await client.post("/v1/messages", json=body, headers=auth(tenant.test))
    assert response.status_code == 202, response.text
    assert response.json()["content"]["type"] == "text"
    stored = await _stored(app, tenant, response.json()["id"])
    [step] = stored.fallback
    assert step.content == {
        "type": "template",
        "template": {
            "name": "order_shipped_v2",
            "language": "en_US",
            "variables": ["Ana"],
            "buttons": [],
        },
    }


async def test_a_platform_template_that_names_no_stored_one_goes_through(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await create(client, tenant.live)
    platform = {"name": "order_shipped", "language": "de", "variables": ["x"]}
    response = await client.post(
        "/v1/messages", json=send_body(platform), headers=auth(tenant.test)
    )
    assert response.status_code == 202, response.text
    assert response.json()["content"]["template"]["name"] == "order_shipped"
    assert response.json()["content"]["template"]["variables"] == ["x"]


async def test_bad_template_sends_are_refused_naming_the_variable(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    template_id = (await create(client, tenant.live))["id"]
    missing = {k: v for k, v in VALUES.items() if k != "customer"}
    cases = [
        (
            send_body({"id": template_id, "variables": missing}),
            "missing_variable",
            "content.template.variables.customer",
        ),
        (
            send_body({"id": template_id, "variables": {**VALUES, "coupon": "X"}}),
            "unknown_variable",
            "content.template.variables.coupon",
        ),
        (
            send_body({"id": template_id, "variables": {**VALUES, "total": "12,5"}}),
            "invalid_variable",
            "content.template.variables.total",
        ),
        (
            send_body({"name": "order_shipped", "variables": {**VALUES, "link": "nope"}}),
            "invalid_variable",
            "content.template.variables.link",
        ),
        (
            send_body({"id": "tpl_" + "0" * 26, "variables": VALUES}),
            "unknown_template",
            "content.template.id",
        ),
        (
            send_body(
                {"id": template_id, "variables": VALUES, "buttons": [{"index": 0, "value": "x"}]}
            ),
            "invalid_request",
            "content.template.buttons",
        ),
        (send_body({"variables": VALUES}), "invalid_request", "content.template.name"),
        (
            {
                **send_body({"id": template_id, "variables": VALUES}),
                "fallback": [
                    {
                        "channel": "whatsapp",
                        "content": {
                            "type": "template",
                            "template": {"id": template_id, "variables": {"customer": "Ana"}},
                        },
                    }
                ],
            },
            "missing_variable",
            "fallback.0.content.template.variables.order",
        ),
    ]
    for body, code, field in cases:
        response = await client.post("/v1/messages", json=body, headers=auth(tenant.test))
        assert_envelope(response, 422, code, field)
    listed = await client.get("/v1/messages", headers=auth(tenant.test))
    assert listed.json()["data"] == []
