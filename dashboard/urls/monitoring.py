"""The overview's chart data and the queues and workers page (URL names in the `dashboard`
namespace)."""

from django.urls import path

from dashboard.views.charts import ChartDataView
from dashboard.views.queues import QueuesView

urlpatterns = [
    path("charts/data/", ChartDataView.as_view(), name="charts-data"),
    path("queues/", QueuesView.as_view(), name="queues"),
]
