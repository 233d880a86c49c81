from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse


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
    return {"nav_links": links}
