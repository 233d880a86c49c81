"""The operators' web dashboard: server-rendered pages over the domain apps' selectors and
services. It sits at the top of the house: nothing imports it."""

from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = "Dashboard"
