"""The Notifications page: alert channels shown only redacted with their last result, the
alert history, and the product endpoints with their delivery logs, a test event and a
replay (POST + CSRF through the services, audited), at a constant query count."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from playwright.sync_api import Page, expect

from access.models import AuditEvent
from businesses.services import team_upsert
from notifications.models import Alert, Delivery, DeliveryAttempt, WebhookEndpoint
from notifications.services.alerts import redacted
from tests.dashboard.conftest import log_in, screenshot

SECRET_CHANNEL = "json://ops:topsecret@127.0.0.1:9/x"
QUIET_CHANNEL = "json://127.0.0.1:9/quiet"
PAGE = "/dashboard/notifications/"
_msg_ids = itertools.count(1)


def endpoint(url: str = "https://product.example.test/hooks", **fields: object) -> WebhookEndpoint:
    fields.setdefault("events", ["business.scraped", "business.failed"])
    return WebhookEndpoint.objects.create(url=url, secret="whsec_dGVzdA==", **fields)


def delivery(to: WebhookEndpoint, *, minutes_ago: int = 0, **fields: object) -> Delivery:
    created = timezone.now() - timedelta(minutes=minutes_ago)
    fields.setdefault("event_type", "business.scraped")
    return Delivery.objects.create(
        endpoint=to,
        msg_id=f"msg_test{next(_msg_ids):08d}",
        payload={"type": fields["event_type"], "data": {}},
        created_at=created,
        **fields,
    )


def attempt(of: Delivery, *, status_code: int | None, latency_ms: int, error: str = "") -> None:
    DeliveryAttempt.objects.create(
        delivery=of,
        attempted_at=of.created_at + timedelta(seconds=latency_ms),
        status_code=status_code,
        latency_ms=latency_ms,
        error=error,
    )


def alert(title: str, *, channels: dict, minutes_ago: int = 0, **fields: object) -> Alert:
    created = timezone.now() - timedelta(minutes=minutes_ago)
    fields.setdefault("state", "sent" if all(c["ok"] for c in channels.values()) else "failed")
    return Alert.objects.create(
        key="health:queues",
        kind=fields.pop("kind", "change"),
        status=fields.pop("status", "critical"),
        title=title,
        body="details",
        channels=channels,
        created_at=created,
        sent_at=created if fields["state"] == "sent" else None,
        **fields,
    )


def result(ok: bool, error: str = "", *, minutes_ago: int = 0) -> dict:
    at = timezone.now() - timedelta(minutes=minutes_ago)
    return {"ok": ok, "error": error, "at": at.isoformat()}


@pytest.mark.django_db(transaction=True)
def test_an_operator_sees_channels_redacted_alerts_and_delivery_logs(
    page: Page, operator, settings
) -> None:
    settings.ALERT_URLS = f"{SECRET_CHANNEL}, {QUIET_CHANNEL}"
    name = redacted(SECRET_CHANNEL)
    assert "topsecret" not in name and "****" in name
    alert(
        "[WARNING] health check queues",
        channels={name: result(True)},
        minutes_ago=30,
        status="warning",
    )
    alert(
        "[CRITICAL] health check queues",
        channels={name: result(False, "Connection refused", minutes_ago=2)},
        minutes_ago=3,
    )
    team = team_upsert(team_id="alice", tier="professional")[0]
    hooks = endpoint(team=team, failing_since=timezone.now() - timedelta(hours=2))
    failed = delivery(hooks, minutes_ago=90, state="failed", attempts=2, last_status_code=503)
    attempt(failed, status_code=500, latency_ms=120, error="HTTP 500")
    attempt(failed, status_code=503, latency_ms=340, error="HTTP 503")
    delivery(hooks, minutes_ago=5, state="succeeded", attempts=1, last_status_code=204)
    endpoint("https://other.example.test/off", enabled=False, disabled_reason="Failing for 5 days.")
    log_in(page)

    page.get_by_role("link", name="Notifications", exact=True).click()
    expect(page.get_by_role("heading", name="Notifications")).to_be_visible()
    channels = page.get_by_test_id("alert-channels").locator("tbody tr")
    expect(channels).to_have_count(2)
    expect(channels.nth(0)).to_contain_text("json://ops:****@127.0.0.1:9/x")
    expect(channels.nth(0)).to_contain_text("failed")  # the newest alert's result
    expect(channels.nth(0)).to_contain_text("Connection refused")
    expect(channels.nth(1)).to_contain_text("No alert has gone to this channel yet")
    assert "topsecret" not in page.content()

    history = page.get_by_test_id("alert-history").locator("tbody tr")
    expect(history).to_have_count(2)
    expect(history.nth(0)).to_contain_text("[CRITICAL] health check queues")
    expect(history.nth(0)).to_contain_text("Connection refused")
    expect(history.nth(1)).to_contain_text("sent")

    card = page.locator(f'[data-endpoint="{hooks.id}"]')
    expect(card).to_contain_text("https://product.example.test/hooks")
    expect(card).to_contain_text("alice")
    expect(card).to_contain_text("business.failed")
    expect(card.get_by_test_id("endpoint-state")).to_contain_text("enabled")
    rows = card.get_by_test_id("deliveries").locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("succeeded")  # newest first
    expect(rows.nth(1)).to_contain_text("failed")
    expect(rows.nth(1).get_by_test_id("attempt")).to_have_count(2)
    expect(rows.nth(1).get_by_test_id("attempt").nth(0)).to_contain_text("HTTP 503 · 340 ms")
    expect(rows.nth(1).get_by_test_id("attempt").nth(1)).to_contain_text("HTTP 500 · 120 ms")
    off = page.locator('[data-endpoint]:has-text("other.example.test")')
    expect(off.get_by_test_id("endpoint-state")).to_contain_text("disabled Failing for 5 days.")
    screenshot(page, "notifications")


@pytest.mark.django_db(transaction=True)
def test_an_operator_sends_a_test_event_and_replays_deliveries(page: Page, operator) -> None:
    hooks = endpoint()
    other = endpoint("https://other.example.test/hooks")
    failed = delivery(hooks, minutes_ago=60, state="failed", attempts=8, last_error="HTTP 500")
    done = delivery(hooks, minutes_ago=30, state="succeeded", attempts=1, last_status_code=200)
    log_in(page)
    page.goto(PAGE)

    card = page.locator(f'[data-endpoint="{hooks.id}"]')
    card.get_by_role("button", name="Send test event").click()
    expect(page.get_by_role("status")).to_contain_text("Test event queued for")
    test = Delivery.objects.get(event_type="webhook.test")
    assert test.endpoint_id == hooks.id and test.state == "pending"
    assert not Delivery.objects.filter(endpoint=other, event_type="webhook.test").exists()
    assert page.url.endswith(f"{PAGE}#endpoint-{hooks.id}")  # back where the operator was
    expect(card.locator(f'tr[data-delivery="{test.id}"]')).to_contain_text("pending")

    for replayed in (failed, done):
        row = card.locator(f'tr[data-delivery="{replayed.id}"]')
        row.get_by_role("button", name="Replay").click()
        expect(page.get_by_role("status")).to_contain_text(f"Delivery {replayed.msg_id}")
        expect(row).to_contain_text("pending")
        expect(row.get_by_role("button", name="Replay")).to_have_count(0)
        replayed.refresh_from_db()
        assert (replayed.state, replayed.attempts) == ("pending", 0)
        assert replayed.next_attempt_at is not None
    events = AuditEvent.objects.filter(action="webhook_delivery.replay").order_by("id")
    assert [(e.actor, e.object_id) for e in events] == [
        ("operator", str(failed.id)),
        ("operator", str(done.id)),
    ]


def test_the_page_and_its_actions_need_staff(client, django_user_model, db) -> None:
    hooks = endpoint()
    failed = delivery(hooks, state="failed", attempts=3)
    send_test = f"{PAGE}endpoints/{hooks.id}/send-test/"
    replay = f"{PAGE}endpoints/{hooks.id}/deliveries/replay/"
    response = client.get(PAGE)
    assert response.status_code == 302 and "/dashboard/login/" in response["Location"]
    assert client.post(send_test).status_code == 302
    client.force_login(django_user_model.objects.create_user("viewer"))
    assert client.get(PAGE).status_code == 403
    assert client.post(send_test).status_code == 403
    assert client.post(replay, {"delivery": failed.id}).status_code == 403
    assert list(Delivery.objects.values_list("state", "attempts")) == [("failed", 3)]
    assert not AuditEvent.objects.exists()


@pytest.fixture
def staff_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("operator", is_staff=True))
    return client


def test_actions_are_post_only_and_stay_within_their_endpoint(staff_client) -> None:
    hooks, other = endpoint(), endpoint("https://other.example.test/hooks")
    theirs = delivery(other, state="failed", attempts=3)
    assert staff_client.get(f"{PAGE}endpoints/{hooks.id}/send-test/").status_code == 405
    replay = f"{PAGE}endpoints/{hooks.id}/deliveries/replay/"
    assert staff_client.post(replay, {"delivery": theirs.id}).status_code == 404
    assert staff_client.post(replay, {"delivery": "nope"}).status_code == 404
    unknown = "00000000-0000-0000-0000-000000000000"
    assert staff_client.post(f"{PAGE}endpoints/{unknown}/send-test/").status_code == 404
    theirs.refresh_from_db()
    assert (theirs.state, theirs.attempts) == ("failed", 3)
    assert not Delivery.objects.filter(event_type="webhook.test").exists()


def test_without_alert_urls_the_page_says_how_to_set_them(staff_client, settings) -> None:
    settings.ALERT_URLS = ""
    response = staff_client.get(PAGE)
    assert response.status_code == 200
    assert response.context["channels"] == []
    text = response.content.decode()
    assert 'data-testid="no-alert-channels"' in text
    assert "ALERT_URLS" in text and "manage.py send_test_alert" in text


def test_a_channel_is_never_shown_with_its_secret(staff_client, settings) -> None:
    settings.ALERT_URLS = f"{SECRET_CHANNEL},bogus://hunter2"
    alert("old", channels={redacted(SECRET_CHANNEL): result(False, "refused")}, minutes_ago=9)
    alert("new", channels={redacted(SECRET_CHANNEL): result(True)}, minutes_ago=1)
    response = staff_client.get(PAGE)
    text = response.content.decode()
    assert "topsecret" not in text and "hunter2" not in text
    channels = {c["name"]: c for c in response.context["channels"]}
    assert set(channels) == {"json://ops:****@127.0.0.1:9/x", "bogus://****"}
    assert channels["json://ops:****@127.0.0.1:9/x"]["alert"].title == "new"
    assert channels["json://ops:****@127.0.0.1:9/x"]["result"]["ok"] is True
    assert channels["bogus://****"]["result"] is None


def _fill(count: int, settings) -> None:
    """`count` endpoints with `count` deliveries of 2 attempts each, and `count` alerts."""
    settings.ALERT_URLS = SECRET_CHANNEL
    now = timezone.now()
    for n in range(count):
        hooks = endpoint(f"https://product{n}.example.test/hooks")
        rows = Delivery.objects.bulk_create(
            Delivery(
                endpoint=hooks,
                msg_id=f"msg_fill{next(_msg_ids):08d}",
                event_type="business.scraped",
                payload={},
                state="failed",
                attempts=2,
                created_at=now - timedelta(minutes=m),
            )
            for m in range(count)
        )
        DeliveryAttempt.objects.bulk_create(
            DeliveryAttempt(delivery=d, attempted_at=now, status_code=500, latency_ms=k)
            for d in rows
            for k in (1, 2)
        )
        alert(f"alert {n}", channels={redacted(SECRET_CHANNEL): result(n % 2 == 0)})


def test_the_page_costs_the_same_whatever_its_size(staff_client, settings) -> None:
    _fill(2, settings)
    with CaptureQueriesContext(connection) as small:
        assert staff_client.get(PAGE).status_code == 200
    _fill(18, settings)  # 20 endpoints, 20 alerts
    with CaptureQueriesContext(connection) as large:
        response = staff_client.get(PAGE)
    assert response.status_code == 200
    rows = response.context["endpoint_rows"]
    assert len(rows) == 20 and len(response.context["alerts"]) == 20
    assert {len(r["deliveries"]) for r in rows} == {2, 10}  # the 10 newest of each, at most
    assert all(len(d["attempts"]) == 2 for r in rows for d in r["deliveries"])
    assert len(large.captured_queries) == len(small.captured_queries)
    with CaptureQueriesContext(connection) as paged:
        assert staff_client.get(f"{PAGE}?page=2&epage=2").status_code == 200
    assert len(paged.captured_queries) <= len(small.captured_queries)
    assert len(small.captured_queries) <= 10, [q["sql"] for q in small.captured_queries]
