"""The suite `validate_global_schedules` runs: each check's name and title, in order.

An empty active batch is not a finding: the product's own flows leave one behind (a tier
change, an expired custom interval, deletes) and the tick advances it without running it
until a business joins; `--fix` and `consolidate_schedules` still retire empties."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from schedules.validation.base import CheckResult, Finding, Scope
from schedules.validation.checks import (
    check_batch_counts,
    check_duplicate_mappings,
    check_group_mismatch,
    check_identifiers,
    check_interval_ranges,
    check_mapping_isolation,
    check_missing_mappings,
    check_next_run,
    check_orphan_mappings,
)


@dataclass(frozen=True)
class Check:
    name: str
    title: str
    run: Callable[[Scope], list[Finding]]


CHECKS: tuple[Check, ...] = (
    Check(
        "missing_mappings", "active businesses mapped for each scrape type", check_missing_mappings
    ),
    Check("orphan_mappings", "no orphan mappings", check_orphan_mappings),
    Check("batch_counts", "batch business_count equals its mappings", check_batch_counts),
    Check("duplicate_mappings", "one batch per business and scrape type", check_duplicate_mappings),
    Check(
        "mapping_isolation", "mappings carry their business's team and key", check_mapping_isolation
    ),
    Check("identifiers", "identifiers valid for their platform", check_identifiers),
    Check("interval_ranges", "intervals within 15 min – 30 days", check_interval_ranges),
    Check("group_mismatch", "mappings in their platform/type/interval group", check_group_mismatch),
    Check("next_run_at", "next_run_at set and sane", check_next_run),
)


def run_checks(scope: Scope | None = None, names: Iterable[str] | None = None) -> list[CheckResult]:
    scope = scope or Scope()
    wanted = set(names) if names is not None else None
    results = []
    for check in CHECKS:
        if wanted is not None and check.name not in wanted:
            continue
        start = time.perf_counter()
        findings = check.run(scope)
        results.append(CheckResult(check.name, check.title, findings, time.perf_counter() - start))
        scope.report(f"{check.name}: {len(findings)} findings")
    return results
