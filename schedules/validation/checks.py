"""Consistency checks of the global schedules (`validate_global_schedules`).

Every check is a plain function of a `Scope` returning a list of `Finding`s; each is one or a
few set-based queries (anti-joins, aggregates), never a loop over rows — except the identifier
check, which must run the platform registry's normaliser in Python and streams plain values.
The SQL is PostgreSQL's (jsonb operators), like the rest of the operations tooling.
"""

from __future__ import annotations

from businesses.models import (
    MAX_INTERVAL_MINUTES,
    MIN_INTERVAL_MINUTES,
    Business,
    CustomInterval,
    Team,
)
from businesses.platforms import PLATFORMS, IdentifierError
from scheduler_project import conf
from scheduler_project.identifiers import TEAM_ID_RULE, is_valid_team_id
from schedules.models import BatchStatus, ScheduleGroup
from schedules.validation.base import (
    BATCH,
    BUSINESS,
    CUSTOM,
    GROUP,
    IDENTIFIER_CHUNK,
    MAPPING,
    TEAM,
    Finding,
    Scope,
    _rows,
    _team_clause,
)


def check_missing_mappings(scope: Scope) -> list[Finding]:
    """Every active business has a mapping for each of its scrape types."""
    where, params = _team_clause(scope, "b.team_id")
    rows = _rows(
        f"""
        SELECT b.id, st.value FROM {BUSINESS} b
        CROSS JOIN LATERAL jsonb_array_elements_text(b.scrape_types) AS st(value)
        WHERE b.active {where}
          AND NOT EXISTS (
            SELECT 1 FROM {MAPPING} m WHERE m.business_id = b.id AND m.scrape_type = st.value)
        ORDER BY b.id, st.value
        """,
        params,
    )
    return [
        Finding(
            "missing_mappings",
            {"business": business_id},
            f"active business has no {scrape_type} mapping",
            True,
        )
        for business_id, scrape_type in rows
    ]


# --- (2) orphan mappings ---------------------------------------------------------------------


def check_orphan_mappings(scope: Scope) -> list[Finding]:
    """No mapping of an inactive business, of a dropped scrape type, or in a retired batch."""
    where, params = _team_clause(scope, "b.team_id")
    rows = _rows(
        f"""
        SELECT m.id, m.business_id, m.batch_id, m.scrape_type,
               NOT b.active, NOT (b.scrape_types @> jsonb_build_array(m.scrape_type)),
               ba.status = %s
        FROM {MAPPING} m
        JOIN {BUSINESS} b ON b.id = m.business_id
        JOIN {BATCH} ba ON ba.id = m.batch_id
        WHERE (NOT b.active OR NOT (b.scrape_types @> jsonb_build_array(m.scrape_type))
               OR ba.status = %s) {where}
        ORDER BY m.id
        """,
        [BatchStatus.RETIRED, BatchStatus.RETIRED, *params],
    )
    findings = []
    for mapping_id, business_id, batch_id, scrape_type, inactive, dropped, retired in rows:
        reasons = [
            reason
            for reason, flag in (
                ("business is inactive", inactive),
                (f"business no longer has scrape type {scrape_type}", dropped),
                ("batch is retired", retired),
            )
            if flag
        ]
        findings.append(
            Finding(
                "orphan_mappings",
                {"mapping": mapping_id, "business": business_id, "batch": batch_id},
                "orphan mapping: " + "; ".join(reasons),
                True,
            )
        )
    return findings


# --- (3) batch counts ------------------------------------------------------------------------

_RECOUNT = f"""
    SELECT ba.id, ba.business_count, coalesce(n.n, 0) AS actual
    FROM {BATCH} ba
    LEFT JOIN (SELECT batch_id, count(*) AS n FROM {MAPPING} GROUP BY batch_id) n
      ON n.batch_id = ba.id
    WHERE ba.business_count <> coalesce(n.n, 0)
"""


def _team_batches(scope: Scope, column: str) -> tuple[str, list[object]]:
    """Batch-level checks under --team: the batches holding one of the team's mappings."""
    if scope.team is None:
        return "", []
    return f" AND {column} IN (SELECT batch_id FROM {MAPPING} WHERE team_id = %s)", [scope.team]


def check_batch_counts(scope: Scope) -> list[Finding]:
    """Every batch's business_count equals a recount of its mappings."""
    where, params = _team_batches(scope, "ba.id")
    rows = _rows(_RECOUNT + where + " ORDER BY ba.id", params)
    return [
        Finding(
            "batch_counts",
            {"batch": batch_id},
            f"business_count is {stored}, the batch has {actual} mappings",
            True,
        )
        for batch_id, stored, actual in rows
    ]


# --- (4) duplicate mappings ------------------------------------------------------------------


def check_duplicate_mappings(scope: Scope) -> list[Finding]:
    """No business in two batches of the same scrape type (a UNIQUE constraint prevents it:
    this catches a dropped constraint or a restore that bypassed it)."""
    where, params = _team_clause(scope, "m.team_id")
    rows = _rows(
        f"""
        SELECT m.business_id, m.scrape_type, array_agg(m.batch_id ORDER BY m.id)
        FROM {MAPPING} m WHERE TRUE {where}
        GROUP BY m.business_id, m.scrape_type HAVING count(*) > 1
        ORDER BY m.business_id
        """,
        params,
    )
    return [
        Finding(
            "duplicate_mappings",
            {"business": business_id, "batches": list(batches)},
            f"business has {len(batches)} {scrape_type} mappings (batches {list(batches)})",
            True,
        )
        for business_id, scrape_type, batches in rows
    ]


# --- (5) data isolation ----------------------------------------------------------------------


def check_mapping_isolation(scope: Scope) -> list[Finding]:
    """A mapping carries its business's team and platform key: results are attributed by
    them, so a difference would leak one team's reviews to another."""
    if scope.team is None:
        where, params = "", []
    else:
        where, params = " AND (b.team_id = %s OR m.team_id = %s)", [scope.team, scope.team]
    rows = _rows(
        f"""
        SELECT m.id, m.business_id, m.team_id, b.team_id, m.platform_key, b.platform_key
        FROM {MAPPING} m JOIN {BUSINESS} b ON b.id = m.business_id
        WHERE (m.team_id <> b.team_id OR m.platform_key <> b.platform_key) {where}
        ORDER BY m.id
        """,
        params,
    )
    findings = []
    for mapping_id, business_id, m_team, b_team, m_key, b_key in rows:
        problems = []
        if m_team != b_team:
            problems.append(f"team {m_team!r} but the business belongs to {b_team!r}")
        if m_key != b_key:
            problems.append(f"platform key {m_key!r} but the business's is {b_key!r}")
        findings.append(
            Finding(
                "mapping_isolation",
                {"mapping": mapping_id, "business": business_id},
                "mapping has " + "; ".join(problems),
                True,
            )
        )
    return findings


# --- (6) empty active batches ----------------------------------------------------------------


def check_empty_batches(scope: Scope) -> list[Finding]:
    """No active batch without mappings (global: an empty batch holds no team's data)."""
    rows = _rows(
        f"""
        SELECT ba.id, ba.group_id, ba.batch_index FROM {BATCH} ba
        WHERE ba.status = %s
          AND NOT EXISTS (SELECT 1 FROM {MAPPING} m WHERE m.batch_id = ba.id)
        ORDER BY ba.id
        """,
        [BatchStatus.ACTIVE],
    )
    return [
        Finding(
            "empty_batches",
            {"batch": batch_id, "group": group_id},
            f"active batch #{index} has no mappings",
            True,
        )
        for batch_id, group_id, index in rows
    ]


# --- (7) identifiers -------------------------------------------------------------------------


def check_identifiers(scope: Scope) -> list[Finding]:
    """Each business's external id still normalises, with the registry, to its stored key;
    each team id follows TEAM_ID_RULE (one stored before the rule is listed, not renamed)."""
    teams = Team.objects.order_by("team_id")
    if scope.team is not None:
        teams = teams.filter(team_id=scope.team)
    findings = [
        Finding(
            "identifiers", {"team": team_id}, f"invalid team id {team_id!r}: {TEAM_ID_RULE}", False
        )
        for team_id in teams.values_list("team_id", flat=True).iterator(chunk_size=IDENTIFIER_CHUNK)
        if not is_valid_team_id(team_id)
    ]
    queryset = Business.objects.order_by()
    if scope.team is not None:
        queryset = queryset.filter(team_id=scope.team)
    rows = queryset.values_list("id", "platform", "external_id", "platform_key")
    seen = 0
    for business_id, platform_name, external_id, key in rows.iterator(chunk_size=IDENTIFIER_CHUNK):
        seen += 1
        if seen % 50_000 == 0:
            scope.report(f"identifiers: {seen:,} businesses checked")
        platform = PLATFORMS.get(platform_name)
        if platform is None:
            message = f"unknown platform {platform_name!r}"
        else:
            try:
                identity = platform.normalise(external_id)
            except IdentifierError as exc:
                message = f"invalid {platform_name} identifier {external_id!r}: {exc}"
            else:
                if identity.key == key:
                    continue
                message = (
                    f"{external_id!r} normalises to key {identity.key!r}, stored key is {key!r}"
                )
        findings.append(Finding("identifiers", {"business": business_id}, message, False))
    return findings


# --- (8) intervals ---------------------------------------------------------------------------


def check_interval_ranges(scope: Scope) -> list[Finding]:
    """Groups and custom intervals within 15 min – 30 days (CHECK constraints guard both)."""
    out_of_range = {"interval_minutes__lt": MIN_INTERVAL_MINUTES}
    too_long = {"interval_minutes__gt": MAX_INTERVAL_MINUTES}
    bounds = f"outside {MIN_INTERVAL_MINUTES}–{MAX_INTERVAL_MINUTES} minutes"
    findings = [
        Finding("interval_ranges", {"group": pk}, f"group interval {minutes} min {bounds}", False)
        for pk, minutes in (
            ScheduleGroup.objects.filter(**out_of_range) | ScheduleGroup.objects.filter(**too_long)
        )
        .order_by("id")
        .values_list("id", "interval_minutes")
    ]
    customs = CustomInterval.objects.filter(**out_of_range) | CustomInterval.objects.filter(
        **too_long
    )
    if scope.team is not None:
        customs = customs.filter(team_id=scope.team)
    findings += [
        Finding(
            "interval_ranges",
            {"custom_interval": pk, "team": team_id},
            f"custom interval {minutes} min {bounds}",
            False,
        )
        for pk, team_id, minutes in customs.order_by("id").values_list(
            "id", "team_id", "interval_minutes"
        )
    ]
    return findings


def check_group_mismatch(scope: Scope) -> list[Finding]:
    """A mapping's batch belongs to the group of its business's platform, its own scrape type
    and its team's effective interval (live custom interval for the platform, else for the
    team, else the tier default). Cron groups are exempt from the interval part."""
    tiers = conf.get().tier_intervals
    tier_case = " ".join("WHEN %s THEN %s" for _ in tiers)
    tier_params: list[object] = [v for item in tiers.items() for v in (item[0], int(item[1]))]
    where, params = _team_clause(scope, "b.team_id")
    rows = _rows(
        f"""
        SELECT m.id, m.business_id, m.batch_id, m.scrape_type, b.platform,
               g.platform, g.scrape_type, g.interval_minutes, g.cron_expression, e.minutes
        FROM {MAPPING} m
        JOIN {BUSINESS} b ON b.id = m.business_id
        JOIN {TEAM} t ON t.team_id = b.team_id
        JOIN {BATCH} ba ON ba.id = m.batch_id
        JOIN {GROUP} g ON g.id = ba.group_id
        LEFT JOIN {CUSTOM} cp ON cp.team_id = b.team_id AND cp.platform = b.platform
        LEFT JOIN {CUSTOM} ca ON ca.team_id = b.team_id AND ca.platform = ''
        CROSS JOIN LATERAL (SELECT coalesce(cp.interval_minutes, ca.interval_minutes,
                                            CASE t.tier {tier_case} END) AS minutes) e
        WHERE b.active {where}
          AND (g.platform <> b.platform OR g.scrape_type <> m.scrape_type
               OR (g.cron_expression = '' AND g.interval_minutes <> e.minutes))
        ORDER BY m.id
        """,
        [*tier_params, *params],
    )
    findings = []
    for row in rows:
        mapping_id, business_id, batch_id, scrape_type, platform = row[:5]
        g_platform, g_type, g_minutes, g_cron, minutes = row[5:]
        problems = []
        if g_platform != platform:
            problems.append(f"group platform {g_platform} ≠ business platform {platform}")
        if g_type != scrape_type:
            problems.append(f"group scrape type {g_type} ≠ mapping's {scrape_type}")
        if not g_cron and g_minutes != minutes:
            problems.append(f"group interval {g_minutes} min ≠ team's effective {minutes} min")
        findings.append(
            Finding(
                "group_mismatch",
                {"mapping": mapping_id, "business": business_id, "batch": batch_id},
                "; ".join(problems),
                True,
            )
        )
    return findings


# --- (9) next_run_at -------------------------------------------------------------------------


def check_next_run(scope: Scope) -> list[Finding]:
    """An active batch's next run is set, not more than 2 intervals overdue (the dispatcher
    would have advanced it) and not further ahead than one interval plus its stagger."""
    where, params = _team_batches(scope, "ba.id")
    rows = _rows(
        f"""
        SELECT ba.id, ba.next_run_at, g.interval_minutes, statement_timestamp()
        FROM {BATCH} ba JOIN {GROUP} g ON g.id = ba.group_id
        WHERE ba.status = %s {where}
          AND (ba.next_run_at IS NULL OR (g.cron_expression = '' AND (
               ba.next_run_at < statement_timestamp() - 2 * g.interval_minutes * interval '1 min'
               OR ba.next_run_at > statement_timestamp() + g.interval_minutes * interval '1 min'
                                   + ba.stagger_offset_seconds * interval '1 s')))
        ORDER BY ba.id
        """,
        [BatchStatus.ACTIVE, *params],
    )
    findings = []
    for batch_id, next_run_at, minutes, now in rows:
        if next_run_at is None:
            message = "active batch has no next_run_at"
        elif next_run_at < now:
            message = f"next_run_at {next_run_at:%Y-%m-%d %H:%M} is over 2 × {minutes} min ago"
        else:
            message = f"next_run_at {next_run_at:%Y-%m-%d %H:%M} is over one interval ahead"
        findings.append(Finding("next_run_at", {"batch": batch_id}, message, True))
    return findings


# --- running them ----------------------------------------------------------------------------
