"""Notifications: the operators' alert channels and their history, and the product webhook
endpoints with their delivery logs, a test event and a replay. Reads and writes go through
the same selectors and services as the REST API (notifications/apis.py); a channel is only
ever shown by its redacted URL."""

from __future__ import annotations

from uuid import UUID

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.dateparse import parse_datetime
from django.views import View

from dashboard.views.base import (
    ActionView,
    StaffRequiredMixin,
    actor,
    paginate,
    query_without_page,
)
from notifications.models import Delivery, WebhookEndpoint
from notifications.selectors import (
    alert_channels_last,
    alert_list,
    delivery_attempts,
    endpoint_deliveries,
    endpoint_get,
    endpoint_list,
    endpoint_recent_deliveries,
)
from notifications.services.alerts import alert_urls, redacted
from notifications.services.delivery import delivery_replay
from notifications.services.events import endpoint_send_test

ALERTS_PER_PAGE = 25
ENDPOINTS_PER_PAGE = 20
DELIVERIES_PER_ENDPOINT = 10


def _result(result: dict) -> dict:
    """A channel's answer as stored in `Alert.channels`, its time parsed for the template."""
    return {
        "ok": bool(result.get("ok")),
        "error": result.get("error", ""),
        "at": parse_datetime(result.get("at") or ""),
    }


def _channels() -> list[dict]:
    """Each configured channel (redacted: URLs carry secrets) with its last result."""
    names = list(dict.fromkeys(redacted(url) for url in alert_urls()))
    last = alert_channels_last(channels=names)
    return [
        {
            "name": name,
            "alert": last.get(name),
            "result": _result(last[name].channels[name]) if name in last else None,
        }
        for name in names
    ]


def _alert_rows(page: object) -> list[dict]:
    return [
        {
            "alert": alert,
            "channels": [
                {"name": name, **_result(result)} for name, result in sorted(alert.channels.items())
            ],
        }
        for alert in page.object_list
    ]


def _endpoint_rows(page: object) -> list[dict]:
    """Each endpoint of the page with its newest deliveries and their attempts: three
    queries in all, whatever the number of rows."""
    endpoints = list(page.object_list)
    recent = (
        endpoint_recent_deliveries(
            endpoint_ids=[e.id for e in endpoints], per_endpoint=DELIVERIES_PER_ENDPOINT
        )
        if endpoints
        else {}
    )
    ids = [d.id for deliveries in recent.values() for d in deliveries]
    attempts = delivery_attempts(delivery_ids=ids) if ids else {}
    return [
        {
            "endpoint": endpoint,
            "deliveries": [{"d": d, "attempts": attempts[d.id]} for d in recent[endpoint.id]],
        }
        for endpoint in endpoints
    ]


class NotificationsView(StaffRequiredMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        alerts = paginate(request, alert_list().defer("body"), per_page=ALERTS_PER_PAGE)
        endpoints = Paginator(endpoint_list(bound_team=None), ENDPOINTS_PER_PAGE).get_page(
            request.GET.get("epage")
        )
        return render(
            request,
            "dashboard/notifications.html",
            {
                "channels": _channels(),
                "page": alerts,
                "alerts": _alert_rows(alerts),
                "filters": query_without_page(request),
                "endpoints": endpoints,
                "endpoint_rows": _endpoint_rows(endpoints),
                "alerts_param": f"page={alerts.number}",
                "deliveries_shown": DELIVERIES_PER_ENDPOINT,
            },
        )


def _endpoint_or_404(endpoint_id: UUID) -> WebhookEndpoint:
    try:
        return endpoint_get(bound_team=None, endpoint_id=endpoint_id)
    except WebhookEndpoint.DoesNotExist:
        raise Http404("No such webhook endpoint.") from None


class EndpointSendTestView(ActionView):
    """A `webhook.test` event to this endpoint alone, sent by the delivery worker."""

    def act(self, request: HttpRequest, endpoint_id: UUID) -> str:
        endpoint = _endpoint_or_404(endpoint_id)
        delivery = endpoint_send_test(endpoint=endpoint)
        return f"Test event queued for {endpoint.url} (delivery {delivery.msg_id})."


class DeliveryReplayView(ActionView):
    """Send a delivery again (same webhook-id, fresh retry schedule). The delivery is named
    in the form, so the URL names only its endpoint."""

    def act(self, request: HttpRequest, endpoint_id: UUID) -> str:
        endpoint = _endpoint_or_404(endpoint_id)
        try:
            delivery = endpoint_deliveries(endpoint=endpoint).get(
                id=int(request.POST.get("delivery", ""))
            )
        except (ValueError, Delivery.DoesNotExist):
            raise Http404("No such delivery for this endpoint.") from None
        delivery = delivery_replay(delivery=delivery, actor=actor(request))
        return (
            f"Delivery {delivery.msg_id} ({delivery.event_type}) to {endpoint.url}: replay queued."
        )
