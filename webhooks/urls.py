from django.urls import path

from webhooks.apis import ApifyWebhookApi

urlpatterns = [
    path("apify/", ApifyWebhookApi.as_view(), name="apify-webhook"),
]
