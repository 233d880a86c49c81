"""Which URLs the service may call: http(s) only, and no address of its own network unless
SCHEDULER_WEBHOOK_ALLOW_PRIVATE_URLS says so, so an endpoint cannot make it probe
localhost, the cloud's metadata service or the cluster. Checked at subscription and again
before each send (a name may resolve elsewhere later)."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError

SCHEME = "Use an http or https URL."
NO_HOST = "The URL has no host."
UNRESOLVABLE = "The host {host} does not resolve."
PRIVATE = (
    "The host {host} resolves to {address}, an address of a private or local network: "
    "refused (SCHEDULER_WEBHOOK_ALLOW_PRIVATE_URLS=true allows it)."
)


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def url_check(url: str, *, allow_private: bool) -> None:
    """Raise ValidationError({"url": [reason]}) for a URL the service must not call."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValidationError({"url": [SCHEME]})
    host = parts.hostname
    if not host:
        raise ValidationError({"url": [NO_HOST]})
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, ValueError):
        raise ValidationError({"url": [UNRESOLVABLE.format(host=host)]}) from None
    for info in infos:
        address = info[4][0]
        if not _is_public(address):
            raise ValidationError({"url": [PRIVATE.format(host=host, address=address)]})
