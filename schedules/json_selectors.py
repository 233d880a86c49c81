"""The two busiest list pages, written as JSON by PostgreSQL in one statement each.

The product's business list (with each business's assignments and outcomes) and the
operators' schedule list are what product services and dashboards poll. Served through the
ORM they cost a few compiled queries and a decode and re-encode of every row per request;
here each is one statement whose answer is the page's JSON text (scheduler_project/
json_pages.py). The field order and values are the serializers' (`BusinessOutputSerializer`,
`ScheduleOutputSerializer`): tests/api/test_list_rows.py holds each to its serializer.

The filters are a fixed map of column conditions, the values always parameters.
"""

from __future__ import annotations

from scheduler_project.json_pages import JsonPage, PageWindow, fetch_page, iso8601, json_object

# The page's assignments and outcomes are read for the whole page at once, by index lookups
# on the page's ids (a subquery per business costs a plan node per row, and a join to the
# page's rows is planned on a guess of 100 scrape types per business: a scan of every
# outcome). A scrape type never scraped yet is an outcome with nulls.
_BUSINESS_PAGE = f"""
WITH page AS MATERIALIZED (
    SELECT * FROM businesses_business b WHERE {{where}} ORDER BY b.id LIMIT %s OFFSET %s),
assignments AS MATERIALIZED (
    SELECT m.business_id, json_agg(json_build_object(
        'scrape_type', m.scrape_type, 'schedule_id', m.batch_id,
        'interval_minutes', g.interval_minutes) ORDER BY m.scrape_type) AS list
    FROM schedules_mapping m
    JOIN schedules_batch bt ON bt.id = m.batch_id
    JOIN schedules_schedulegroup g ON g.id = bt.group_id
    WHERE m.business_id = ANY(ARRAY(SELECT id FROM page))
    GROUP BY m.business_id),
scraped AS MATERIALIZED (
    SELECT so.business_id, so.scrape_type, so.last_status, so.last_scraped_at, so.last_error
    FROM businesses_scrapeoutcome so WHERE so.business_id = ANY(ARRAY(SELECT id FROM page))),
outcomes AS MATERIALIZED (
    SELECT x.business_id, json_agg(json_build_object(
        'scrape_type', x.scrape_type, 'last_status', x.last_status,
        'last_scraped_at', {iso8601("x.last_scraped_at")}, 'last_error', x.last_error)
        ORDER BY x.scrape_type COLLATE "C") AS list
    FROM (
        SELECT * FROM scraped
        UNION ALL
        SELECT DISTINCT p.id, t.scrape_type, NULL::varchar, NULL::timestamptz, ''
        FROM page p, jsonb_array_elements_text(p.scrape_types) AS t(scrape_type)
        WHERE NOT EXISTS (
            SELECT FROM scraped s WHERE s.business_id = p.id AND s.scrape_type = t.scrape_type)
    ) x
    GROUP BY x.business_id)
SELECT EXISTS (SELECT 1 FROM businesses_team WHERE team_id = %s),
       (SELECT count(*) FROM businesses_business b WHERE {{where}}),
       (SELECT coalesce(json_agg({{business}} ORDER BY p.id), '[]')::text
        FROM page p
        LEFT JOIN assignments a ON a.business_id = p.id
        LEFT JOIN outcomes o ON o.business_id = p.id)"""

# A business of the page (the serializer's fields, in its order); every scrape type the
# business has or had an outcome for, in code-point order (Python's sorted()), a type never
# scraped yet with nulls.
_BUSINESS = json_object(
    [
        ("id", "p.id"),
        ("team_id", "p.team_id"),
        ("platform", "p.platform"),
        ("external_id", "p.external_id"),
        ("name", "p.name"),
        ("active", "p.active"),
        ("scrape_types", "p.scrape_types"),
        ("assignments", "coalesce(a.list, '[]')"),
        ("last_scraped_at", iso8601("p.last_scraped_at")),
        ("last_status", "p.last_status"),
        ("last_error", "p.last_error"),
        ("outcomes", "coalesce(o.list, '[]')"),
        ("created_at", iso8601("p.created_at")),
    ]
)


def business_page_json(*, team_id: str, filters: dict, window: PageWindow) -> JsonPage | None:
    """A page of the team's businesses, as `business_list` filters and orders them; None
    when there is no such team (a 404)."""
    if "\x00" in team_id:
        return None
    where, params = ["b.team_id = %s"], [team_id]
    if filters.get("platform"):
        where.append("b.platform = %s")
        params.append(filters["platform"])
    if filters.get("status") == "never":
        where.append("b.last_status IS NULL")
    elif filters.get("status"):
        where.append("b.last_status = %s")
        params.append(filters["status"])
    if filters.get("active") is not None:
        where.append("b.active = %s")
        params.append(filters["active"])
    sql = _BUSINESS_PAGE.format(where=" AND ".join(where), business=_BUSINESS)
    exists, count, results = fetch_page(
        sql, [*params, window.limit, window.offset, team_id, *params]
    )
    return JsonPage(count=count, results_json=results) if exists else None


_SCHEDULE = json_object(
    [
        ("id", "p.id"),
        ("group_id", "p.group_id"),
        ("platform", "p.platform"),
        ("scrape_type", "p.scrape_type"),
        ("interval_minutes", "p.interval_minutes"),
        ("cron_expression", "p.cron_expression"),
        ("batch_index", "p.batch_index"),
        ("capacity", "p.capacity"),
        ("business_count", "p.business_count"),
        # Python's round(count / capacity, 4): ties to even, as rint does.
        (
            "utilisation",
            "CASE WHEN p.capacity > 0 THEN"
            " round(p.business_count::float8 / p.capacity * 10000) / 10000 ELSE 0.0 END",
        ),
        ("status", "p.status"),
        ("paused_reason", "p.paused_reason"),
        ("paused_until", iso8601("p.paused_until")),
        ("next_run_at", iso8601("p.next_run_at")),
        ("last_run_at", iso8601("p.last_run_at")),
        ("stagger_offset_seconds", "p.stagger_offset_seconds"),
        ("misfire_policy", "p.misfire_policy"),
        ("overlap_policy", "p.overlap_policy"),
        ("missed_runs_count", "p.missed_runs_count"),
    ]
)

_SCHEDULE_FROM = (
    "schedules_batch b JOIN schedules_schedulegroup g ON g.id = b.group_id WHERE {where}"
)
_SCHEDULE_ORDER = "g.platform, g.scrape_type, g.interval_minutes, b.batch_index, b.id"
_SCHEDULE_PAGE = f"""
WITH page AS (
    SELECT b.*, g.platform, g.scrape_type, g.interval_minutes, g.cron_expression,
           row_number() OVER (ORDER BY {_SCHEDULE_ORDER}) AS position
    FROM {_SCHEDULE_FROM} ORDER BY {_SCHEDULE_ORDER} LIMIT %s OFFSET %s)
SELECT (SELECT count(*) FROM {_SCHEDULE_FROM}),
       (SELECT coalesce(json_agg({_SCHEDULE} ORDER BY p.position), '[]')::text FROM page p)"""

_SCHEDULE_FILTERS = {
    "platform": "g.platform = %s",
    "scrape_type": "g.scrape_type = %s",
    "interval": "g.interval_minutes = %s",
    "status": "b.status = %s",
}


def batch_page_json(*, filters: dict, window: PageWindow) -> JsonPage:
    """A page of every schedule's batches, as `batch_list` filters and orders them."""
    where, params = ["TRUE"], []
    for name, condition in _SCHEDULE_FILTERS.items():
        if filters.get(name):
            where.append(condition)
            params.append(filters[name])
    sql = _SCHEDULE_PAGE.format(where=" AND ".join(where))
    count, results = fetch_page(sql, [*params, window.limit, window.offset, *params])
    return JsonPage(count=count, results_json=results)
