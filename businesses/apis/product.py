"""The product API: teams, their businesses and reviews, every path scoped by team."""

from __future__ import annotations

from operator import itemgetter

from django.db import transaction
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from access.authentication import IsProductClient
from access.throttles import ProductRateThrottle
from businesses.models import Business, ReviewItem, ScrapeStatus, Team, Tier
from businesses.platforms import PLATFORM_CHOICES, ScrapeType
from businesses.selectors import (
    business_get,
    business_list,
    review_feed,
    team_effective_intervals,
    team_get,
)
from businesses.services import business_delete, business_register, business_update, team_upsert
from scheduler_project.api import (
    DUPLICATE,
    ERRORS,
    PAGE_PARAMETERS,
    NewestFirstCursorPagination,
    StrictInputSerializer,
    page_of,
    query_filters,
)
from scheduler_project.json_pages import PageWindow, serves_json_pages
from scheduler_project.rows import RowShape
from schedules.json_selectors import business_page_json
from schedules.selectors import business_rows_with_assignments, businesses_with_assignments


def _business_get(*, team: Team, business_id: int) -> Business:
    """One business of THIS team (another team's id is a 404), with its assignments."""
    return businesses_with_assignments([business_get(team=team, business_id=business_id)])[0]


class ProductApi(APIView):
    permission_classes = [IsProductClient]
    throttle_classes = [ProductRateThrottle]
    throttle_scope = "product"


class AssignmentSerializer(serializers.Serializer):
    scrape_type = serializers.CharField()
    schedule_id = serializers.IntegerField()
    interval_minutes = serializers.IntegerField()


class ScrapeOutcomeSerializer(serializers.Serializer):
    scrape_type = serializers.CharField()
    last_status = serializers.CharField(
        allow_null=True, help_text="`succeeded` or `failed`; null before this type's first scrape."
    )
    last_scraped_at = serializers.DateTimeField(allow_null=True)
    last_error = serializers.CharField(allow_blank=True)


class BusinessOutputSerializer(serializers.ModelSerializer):
    assignments = serializers.SerializerMethodField()
    outcomes = serializers.SerializerMethodField()
    last_status = serializers.CharField(
        allow_null=True,
        help_text="The worst of `outcomes`: `failed` if any scrape type's last scrape failed.",
    )

    class Meta:
        model = Business
        fields = [
            "id",
            "team_id",
            "platform",
            "external_id",
            "name",
            "active",
            "scrape_types",
            "assignments",
            "last_scraped_at",
            "last_status",
            "last_error",
            "outcomes",
            "created_at",
        ]

    @extend_schema_field(AssignmentSerializer(many=True))
    def get_assignments(self, business: Business) -> list[dict]:
        return business.assignments  # attached by businesses_with_assignments

    @extend_schema_field(ScrapeOutcomeSerializer(many=True))
    def get_outcomes(self, business: Business) -> list[dict]:
        return ScrapeOutcomeSerializer(business.outcomes, many=True).data


# The list's rows without a serializer per business (scheduler_project/rows.py).
BUSINESS_ROWS = RowShape(
    BusinessOutputSerializer,
    computed={"assignments": itemgetter("assignments"), "outcomes": itemgetter("outcomes")},
)


class TeamOutputSerializer(serializers.ModelSerializer):
    effective_intervals = serializers.SerializerMethodField()

    class Meta:
        model = Team
        fields = ["team_id", "tier", "effective_intervals", "created_at", "updated_at"]

    def get_effective_intervals(self, team: Team) -> dict[str, int]:
        return team_effective_intervals(team)


class TeamApi(ProductApi):
    team_write_methods = ("PUT",)  # creating a team or changing its tier: unbound keys only

    class InputSerializer(StrictInputSerializer):
        tier = serializers.ChoiceField(choices=Tier.choices)

        class Meta:
            ref_name = "TeamInput"

    @extend_schema(responses={200: TeamOutputSerializer, **ERRORS}, operation_id="team_get")
    def get(self, request: Request, team_id: str) -> Response:
        return Response(TeamOutputSerializer(team_get(team_id=team_id)).data)

    @extend_schema(
        request=InputSerializer,
        responses={200: TeamOutputSerializer, 201: TeamOutputSerializer, **ERRORS},
        operation_id="team_put",
        description="Create the team, or change its tier: its businesses move to the "
        "schedules of the new tier's interval. Needs an unbound product key (or an operator): "
        "a team-bound key is refused (403), since the tier sets what the team costs.",
    )
    def put(self, request: Request, team_id: str) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        team, created = team_upsert(team_id=team_id, tier=serializer.validated_data["tier"])
        return Response(
            TeamOutputSerializer(team).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class BusinessListApi(ProductApi):
    class FilterSerializer(serializers.Serializer):
        platform = serializers.ChoiceField(choices=PLATFORM_CHOICES, required=False)
        status = serializers.ChoiceField(
            choices=[*ScrapeStatus.values, "never"],
            required=False,
            help_text="Outcome of the last scrape; `never` for not scraped yet.",
        )
        active = serializers.BooleanField(required=False, allow_null=True, default=None)

        class Meta:
            ref_name = "BusinessFilter"

    class InputSerializer(StrictInputSerializer):
        platform = serializers.ChoiceField(choices=PLATFORM_CHOICES)
        external_id = serializers.CharField(max_length=500)
        name = serializers.CharField(max_length=300, required=False, allow_blank=True)
        scrape_types = serializers.ListField(
            child=serializers.ChoiceField(choices=ScrapeType.choices),
            required=False,
            allow_empty=False,
        )

        class Meta:
            ref_name = "BusinessCreateInput"

    @extend_schema(
        parameters=[FilterSerializer, *PAGE_PARAMETERS],
        responses={
            200: page_of("BusinessPage", BusinessOutputSerializer(many=True)),
            **ERRORS,
        },
        operation_id="team_businesses_list",
    )
    def get(self, request: Request, team_id: str) -> Response:
        filters = query_filters(request, self.FilterSerializer)
        if serves_json_pages():
            window = PageWindow.of(request)
            page = business_page_json(team_id=team_id, filters=filters, window=window)
            if page is None:
                raise Team.DoesNotExist
            return page.response(request, window)
        queryset = business_list(team=team_get(team_id=team_id), filters=filters)
        return BUSINESS_ROWS.page(
            request, queryset, self, attach=business_rows_with_assignments, extra_columns=["id"]
        )

    @extend_schema(
        request=InputSerializer,
        responses={201: BusinessOutputSerializer, **ERRORS, **DUPLICATE},
        operation_id="team_businesses_create",
        description="Register a business: the answer carries its batch assignments.",
    )
    def post(self, request: Request, team_id: str) -> Response:
        team = team_get(team_id=team_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        business = business_register(team=team, **serializer.validated_data)
        business = _business_get(team=team, business_id=business.id)
        return Response(BusinessOutputSerializer(business).data, status=status.HTTP_201_CREATED)


class BusinessDetailApi(ProductApi):
    class InputSerializer(StrictInputSerializer):
        name = serializers.CharField(max_length=300, required=False, allow_blank=True)
        active = serializers.BooleanField(required=False)

        class Meta:
            ref_name = "BusinessUpdateInput"

    @extend_schema(
        responses={200: BusinessOutputSerializer, **ERRORS}, operation_id="team_business_get"
    )
    def get(self, request: Request, team_id: str, business_id: int) -> Response:
        business = _business_get(team=team_get(team_id=team_id), business_id=business_id)
        return Response(BusinessOutputSerializer(business).data)

    @extend_schema(
        request=InputSerializer,
        responses={200: BusinessOutputSerializer, **ERRORS},
        operation_id="team_business_update",
    )
    def patch(self, request: Request, team_id: str, business_id: int) -> Response:
        team = team_get(team_id=team_id)
        business = _business_get(team=team, business_id=business_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        business_update(business=business, **serializer.validated_data)
        return Response(
            BusinessOutputSerializer(_business_get(team=team, business_id=business_id)).data
        )

    @extend_schema(
        responses={204: None, **ERRORS},
        operation_id="team_business_delete",
        description="Remove the business from its schedules (pending retries go "
        "with it) and delete it with its reviews.",
    )
    def delete(self, request: Request, team_id: str, business_id: int) -> Response:
        with transaction.atomic():
            business = _business_get(team=team_get(team_id=team_id), business_id=business_id)
            business_delete(business=business)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ReviewOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = ReviewItem
        fields = ["id", "platform_item_id", "published_at", "scraped_at", "payload"]


class BusinessReviewsApi(ProductApi):
    class FilterSerializer(serializers.Serializer):
        since = serializers.DateTimeField(
            required=False, help_text="Only reviews scraped at or after this moment (ISO 8601)."
        )

    @extend_schema(
        parameters=[
            FilterSerializer,
            OpenApiParameter("cursor", str),
            OpenApiParameter("limit", int),
        ],
        responses={
            200: inline_serializer(
                "ReviewPage",
                {
                    "next": serializers.URLField(allow_null=True),
                    "previous": serializers.URLField(allow_null=True),
                    "results": ReviewOutputSerializer(many=True),
                },
            ),
            **ERRORS,
        },
        operation_id="team_business_reviews",
    )
    def get(self, request: Request, team_id: str, business_id: int) -> Response:
        filters = query_filters(request, self.FilterSerializer)
        business = _business_get(team=team_get(team_id=team_id), business_id=business_id)
        paginator = NewestFirstCursorPagination()
        page = paginator.paginate_queryset(
            review_feed(business=business, since=filters.get("since")),
            request,
            view=self,
        )
        return paginator.get_paginated_response(ReviewOutputSerializer(page, many=True).data)
