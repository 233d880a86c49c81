from django.urls import path

from webhooks.apis import ApifyWebhookApi
from webhooks.contract import WEBHOOK_URL_NAME

urlpatterns = [
    path("apify/", ApifyWebhookApi.as_view(), name=WEBHOOK_URL_NAME),
]
