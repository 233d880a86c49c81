"""What bench/report.py runs and which figures it reads from each benchmark's output: the
script and its arguments, then per figure a label, the regex that finds it, its target and
what it is compared with."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    label: str
    pattern: str  # a regex whose first group is the number, searched in the output
    target: float | None = None
    higher_is_better: bool = True
    baseline: str | None = None  # a label of another figure, or a literal "number"


# (benchmark script and its arguments, the figures it prints)
BENCHMARKS: dict[str, tuple[list[str], list[Figure]]] = {
    "assign": (
        ["assign.py", "--businesses", "100000"],
        [
            Figure(
                "assignment ceiling: raw COPY of the same rows (businesses/s)",
                r"^ceiling: raw COPY of the same rows \(businesses/s\)\s*\|\s*([\d,.]+)",
            ),
            Figure(
                "assignment, bulk path (businesses/s)",
                r"^businesses/s\s*\|\s*([\d,.]+)",
                10000,
                baseline="assignment ceiling: raw COPY of the same rows (businesses/s)",
            ),
            Figure(
                "assignment, bulk path / COPY ceiling",
                r"^real path / COPY ceiling\s*\|\s*([\d,.]+)",
            ),
        ],
    ),
    "dispatch": (
        ["compare_dispatch.py"],
        [
            Figure(
                "django-celery-beat DatabaseScheduler (sends/s)",
                r"^beat: sends/s[^|]*\|\s*([\d,.]+)",
            ),
            Figure(
                "dispatch, 1 process (batches/s)",
                r"^dispatch, 1 proc: batches/s[^|]*\|\s*([\d,.]+)",
                2000,
                baseline="django-celery-beat DatabaseScheduler (sends/s)",
            ),
            Figure(
                "dispatch, 4 processes (batches/s)",
                r"^dispatch, 4 proc: batches/s[^|]*\|\s*([\d,.]+)",
                2000,
                baseline="django-celery-beat DatabaseScheduler (sends/s)",
            ),
        ],
    ),
    "ingest": (
        ["ingest.py", "--items", "100000", "--businesses", "500"],
        [
            Figure(
                "ingest ceiling: raw COPY of the same rows (rows/s)",
                r"^ceiling: raw COPY of the same rows\s*\|[^|]*\|[^|]*\|\s*([\d,.]+)",
            ),
            Figure(
                "ingest end to end (items/s)",
                r"^execution_ingest end to end\s*\|[^|]*\|[^|]*\|\s*([\d,.]+)",
                20000,
                baseline="ingest ceiling: raw COPY of the same rows (rows/s)",
            ),
            Figure(
                "ingest end to end / COPY ceiling",
                r"^end to end / COPY ceiling\s*\|[^|]*\|[^|]*\|\s*([\d,.]+)",
                0.40,
            ),
        ],
    ),
    "ingest_memory": (
        ["ingest_memory.py", "--small", "100000", "--large", "1000000"],
        [
            Figure(
                "ingest peak RSS, 1,000,000 items held whole (MB)",
                r"^whole dataset \(before\)\s*\|\s*1,000,000\s*\|[^|]*\|\s*([\d,.]+)",
            ),
            Figure(
                "ingest peak RSS, 1,000,000 items page by page (MB)",
                r"^page by page \(the service\)\s*\|\s*1,000,000\s*\|[^|]*\|\s*([\d,.]+)",
                higher_is_better=False,
                baseline="ingest peak RSS, 1,000,000 items held whole (MB)",
            ),
            Figure(
                "ingest peak RSS ratio 1,000,000 / 100,000 items",
                r"^peak at large / at small \(page by page\)\s*\|[^|]*\|[^|]*\|\s*([\d,.]+)",
                1.25,
                higher_is_better=False,
            ),
        ],
    ),
    "webhook": (
        ["webhook_load.py", "--seconds", "15", "--configs", "sync:4", "--conn-max-age", "60"],
        [
            Figure(
                "webhook under gunicorn (req/s)",
                r"best config: [^:]+:\d+ [^:]+: ([\d,.]+) req/s",
                500,
            ),
            Figure(
                "webhook p99 (ms)", r"best config: .* p99 ([\d.]+) ms", 50, higher_is_better=False
            ),
        ],
    ),
    "api": (
        ["api_load.py", "--businesses", "10000", "--seconds", "10"],
        [
            Figure("API ceiling: /healthz (req/s)", r"^ceiling: /healthz[^|]*\|\s*([\d,.]+)"),
            Figure(
                "admin schedule list (req/s)",
                r"^admin schedule list \(50/page\)\s*\|\s*([\d,.]+)",
                800,
                baseline="API ceiling: /healthz (req/s)",
            ),
            Figure(
                "admin schedule list p99 (ms)",
                r"^admin schedule list \(50/page\)\s*\|[^|]*\|[^|]*\|[^|]*\|\s*([\d,.]+)",
                40,
                higher_is_better=False,
            ),
            Figure(
                "product business list (req/s)",
                r"^product business list \(50/page\)\s*\|\s*([\d,.]+)",
                800,
                baseline="API ceiling: /healthz (req/s)",
            ),
            Figure(
                "product business list p99 (ms)",
                r"^product business list \(50/page\)\s*\|[^|]*\|[^|]*\|[^|]*\|\s*([\d,.]+)",
                40,
                higher_is_better=False,
            ),
        ],
    ),
    "import": (
        ["import.py", "--rows", "100000"],
        [
            Figure(
                "import ceiling: raw COPY of the same rows (rows/s)",
                r"^ceiling: raw COPY of the same rows \(rows/s\)\s*\|\s*([\d,.]+)",
            ),
            Figure(
                "import_businesses, 100,000 rows (rows/s)",
                r"^100,000 rows: rows/s\s*\|\s*([\d,.]+)",
                10000,
                baseline="import ceiling: raw COPY of the same rows (rows/s)",
            ),
            Figure(
                "import_businesses / COPY ceiling",
                r"^real path / COPY ceiling\s*\|\s*([\d,.]+)",
            ),
            Figure(
                "import_businesses peak RSS ratio 2N/N",
                r"^peak RSS ratio 2N / N\s*\|\s*([\d.]+)",
                1.25,
                higher_is_better=False,
            ),
        ],
    ),
    "soak": (
        ["soak.py", "--minutes", "10", "--sample-seconds", "60"],  # the long form: 60 minutes
        [
            Figure(
                "soak: RSS growth after warm-up, ingest worker (%)",
                r"^RSS w-ingest \(MiB\) growth[^|]*\|[^(]*\(([-+\d.]+)%\)",
                10,
                higher_is_better=False,
            ),
            Figure(
                "soak: RSS growth after warm-up, start worker (%)",
                r"^RSS w-start \(MiB\) growth[^|]*\|[^(]*\(([-+\d.]+)%\)",
                10,
                higher_is_better=False,
            ),
            Figure(
                "soak: RSS growth after warm-up, web (%)",
                r"^RSS web \(MiB\) growth[^|]*\|[^(]*\(([-+\d.]+)%\)",
                10,
                higher_is_better=False,
            ),
            Figure(
                "soak: PostgreSQL sessions growth (%)",
                r"^PostgreSQL sessions growth[^|]*\|[^(]*\(([-+\d.]+)%\)",
                10,
                higher_is_better=False,
            ),
            Figure(
                "soak: lateness p99, first third (s)",
                r"^lateness steady[^|]*\|\s*first third p99 ([\d.]+) s",
            ),
            Figure(
                "soak: lateness p99, last third (s)",
                r"^lateness steady[^|]*\|.*last third p99 ([\d.]+) s",
                higher_is_better=False,
                baseline="soak: lateness p99, first third (s)",
            ),
        ],
    ),
    "validate": (
        ["validate.py"],
        [
            Figure(
                "validate_global_schedules, 100,000 businesses (s)",
                r"^TOTAL \(call_command\)\s*\|\s*([\d.]+)",
                10,
                higher_is_better=False,
            ),
        ],
    ),
    "lateness": (
        ["lateness.py"],  # 10,000 batches over 60 s, 2 dispatchers ticking every 1 s, 1 edit/s
        [
            Figure(
                "django-celery-beat lateness p99, 1 edit/s (ms, lower bound)",
                r"^beat: lateness p99, all slots \(ms\)\s*\|\s*([\d,.]+)",
                higher_is_better=False,
            ),
            Figure(
                "dispatch lateness p50, 1 edit/s (ms)",
                r"^lateness p50 \(ms\)\s*\|\s*([\d,.]+)",
                higher_is_better=False,
            ),
            Figure(
                "dispatch lateness p99, 1 edit/s (ms)",
                r"^lateness p99 \(ms\)\s*\|\s*([\d,.]+)",
                2000,  # two ticks of 1 s: a slot waits up to one tick by design
                higher_is_better=False,
                baseline="django-celery-beat lateness p99, 1 edit/s (ms, lower bound)",
            ),
        ],
    ),
    "capacity": (
        ["capacity.py"],  # 500 batches due at once on a 16-slot account, admission on and off
        [
            Figure(
                "capacity: starts refused (402), admission off",
                r"^starts refused \(402\)\s*\|[^|]*\|\s*([\d,.]+)",
                higher_is_better=False,
            ),
            Figure(
                "capacity: starts refused (402), admission on",
                r"^starts refused \(402\)\s*\|\s*([\d,.]+)",
                0,
                higher_is_better=False,
                baseline="capacity: starts refused (402), admission off",
            ),
            Figure(
                "capacity: account used while work waited (% of slots)",
                r"^account used while work waited \(% of slots\)\s*\|\s*([\d,.]+)",
                95,
            ),
            Figure(
                "capacity: account full while work waited (% of time)",
                r"^account full while work waited \(% of time\)\s*\|\s*([\d,.]+)",
            ),
            Figure(
                "capacity: drain time / ideal",
                r"^drain / ideal\s*\|\s*([\d,.]+)",
                1.10,
                higher_is_better=False,
            ),
            Figure(
                "Apify runs per day, 10,000 businesses, one schedule each",
                r"^Apify runs per day\s*\|[^|]*\|\s*([\d,.]+)",
                higher_is_better=False,
            ),
            Figure(
                "Apify runs per day, 10,000 businesses in batches",
                r"^Apify runs per day\s*\|\s*([\d,.]+)",
                higher_is_better=False,
                baseline="Apify runs per day, 10,000 businesses, one schedule each",
            ),
        ],
    ),
    "webhook_deliveries": (
        ["webhook_deliveries.py"],  # 10,000 deliveries at once, then 500/s for 20 s; ingest off/on
        [
            Figure(
                "webhook deliveries, 10,000 queued (deliveries/s)",
                r"^deliveries/s \(first created -> last arrival\)\s*\|\s*([\d,.]+)",
                500,
            ),
            Figure(
                "webhook enqueue-to-delivery p99 at 500/s (s)",
                r"^latency p99 \(s\)\s*\|[^|]*\|\s*([\d,.]+)",
                2.0,
                higher_is_better=False,
            ),
            Figure(
                "webhook delivery: worker CPU per delivery, 10,000 queued (ms)",
                r"^CPU ms per delivery: celery workers\s*\|\s*([\d,.]+)",
                higher_is_better=False,
            ),
            Figure(
                "ingest end to end, notifications off (items/s)",
                r"^ingest items/s, notifications off\s*\|\s*([\d,.]+)",
            ),
            Figure(
                "ingest end to end, notifications on (items/s)",
                r"^ingest items/s, notifications on\s*\|\s*([\d,.]+)",
                baseline="ingest end to end, notifications off (items/s)",
            ),
            Figure(
                "ingest items/s, notifications on / off",
                r"^ingest items/s on / off\s*\|\s*([\d,.]+)",
                0.90,
            ),
        ],
    ),
    "dashboard": (
        ["dashboard_render.py", "--businesses", "10000", "--renders", "30"],
        [
            Figure(
                "dashboard: slowest page p95, 10,000 businesses (ms)",
                r"^slowest page p95 \(ms\)\s*\|\s*([\d,.]+)",
                150,
                higher_is_better=False,
            ),
            Figure(
                "dashboard: overview p95 (ms)",
                r"^overview p95 \(ms\)\s*\|\s*([\d,.]+)",
                150,
                higher_is_better=False,
            ),
        ],
    ),
}
