from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from schedules.services.dispatch_switch import dispatch_switch_get


def dashboard_nav(request: HttpRequest) -> dict:
    """The dashboard's top navigation: the pages that exist, in order."""
    from dashboard.urls import NAV

    links = []
    for name, label in NAV:
        try:
            reverse(name)
        except NoReverseMatch:
            continue
        links.append((name, label))
    return {"nav_links": links, "dispatch_switch": _dispatch_switch(request)}


def _dispatch_switch(request: HttpRequest) -> object | None:
    """The kill switch when it is on, for the banner every page shows (staff pages only)."""
    user = getattr(request, "user", None)
    if not (user and user.is_authenticated and user.is_staff):
        return None
    switch = dispatch_switch_get()
    return switch if switch.paused else None
