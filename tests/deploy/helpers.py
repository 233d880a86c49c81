"""What the deploy files are checked against: the project's entry points, the environment
variables it reads, and the names /metrics exports."""

from __future__ import annotations

import ast
import importlib
import re
import shlex
from pathlib import Path
from typing import Any

import click
import yaml
from celery.app.utils import find_app
from celery.bin.base import CLIContext
from celery.bin.celery import celery as celery_cli
from celery.worker.control import Panel
from django.core.management import get_commands, load_command_class
from gunicorn.config import Config as GunicornConfig
from prometheus_client.parser import text_string_to_metric_families

from scheduler_project import conf

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
PROMETHEUS = ROOT / "deploy" / "prometheus"
GRAFANA = ROOT / "deploy" / "grafana" / "global-scheduler.json"
IMAGE = "global-scheduler:latest"
PLACEHOLDER = "REPLACE-ME"

# Metric names in PromQL. Digits too: `scheduler_executions_last_24h`.
METRIC = re.compile(r"\bscheduler_[a-z0-9_]+")
SELECTOR = re.compile(r"\b(scheduler_[a-z0-9_]+)\{([^}]*)\}")
MATCHER = re.compile(r'(\w+)\s*=\s*"([^"]*)"')
GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")
LABEL_TEMPLATE = re.compile(r"\{\{\s*\$?(?:labels\.)?(\w+)\s*\}\}")
SHELL_CONTROL = {"&&", "||", ";", "|"}
SHELL_KEYWORDS = {"if", "then", "else", "elif", "fi", "until", "while", "do", "done", "!"}
ENV_READERS = {
    "str",
    "int",
    "float",
    "bool",
    "list",
    "db_url",
    "cache_url",
    "env_bool",
    "env_int",
}


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def compose_args(service: dict[str, Any]) -> list[str]:
    """The argv a compose service runs (the image's CMD when it names none), `$$` unescaped."""
    command = service.get("command")
    if command is None:
        return dockerfile_cmd()
    args = shlex.split(command) if isinstance(command, str) else list(command)
    return [arg.replace("$$", "$") for arg in args]


def dockerfile_cmd() -> list[str]:
    (cmd,) = re.findall(r"^CMD (\[.*\])$", (ROOT / "Dockerfile").read_text(), re.M)
    return yaml.safe_load(cmd)


def k8s_documents() -> list[dict[str, Any]]:
    """Every resource in deploy/k8s/ (the Secret template included), by file."""
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            docs += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return docs


def k8s_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in k8s_documents() if d["kind"] == kind}


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    return workload["spec"]["template"]["spec"]


def containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    spec = pod_spec(workload)
    return [*spec.get("initContainers", []), *spec["containers"]]


def configmap_data() -> dict[str, str]:
    (configmap,) = k8s_kind("ConfigMap").values()
    return configmap["data"]


def csv(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


# --- The environment the project reads ----------------------------------------------------


def settings_env_names() -> set[str]:
    """Every variable settings.py reads (env.str("NAME"), conf.env_bool(os.environ, "NAME"),
    …) and every scheduler knob (conf.KNOBS)."""
    tree = ast.parse((ROOT / "scheduler_project" / "settings.py").read_text())
    names = set(conf.KNOBS)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) in ENV_READERS:
            names |= {
                arg.value
                for arg in node.args[:2]
                if isinstance(arg, ast.Constant)
                and isinstance(arg.value, str)
                and re.fullmatch(r"[A-Z][A-Z0-9_]+", arg.value)
            }
    return names


def settings_default(name: str) -> Any:
    """The `default=` settings.py gives the variable `name` (the tests' environment may
    override the value itself)."""
    tree = ast.parse((ROOT / "scheduler_project" / "settings.py").read_text())
    for node in ast.walk(tree):
        first = node.args[0] if isinstance(node, ast.Call) and node.args else None
        if isinstance(first, ast.Constant) and first.value == name:
            for keyword in node.keywords:
                if keyword.arg == "default":
                    return ast.literal_eval(keyword.value)
    raise LookupError(name)


# --- Entry points ---------------------------------------------------------------------------


def check_entry_point(args: list[str]) -> int:
    """Fail unless `args` runs real entry points of the project with options they accept;
    returns how many were checked (a shell script may hold several)."""
    if args[:2] == ["sh", "-c"]:
        return check_shell(args[2])
    if args[0] == "celery":
        check_celery(args)
    elif args[:2] == ["python", "manage.py"]:
        check_manage(args[2:])
    elif args[0] == "gunicorn":
        check_gunicorn(args)
    elif args[0] != "sleep":
        raise AssertionError(f"not an entry point of the project: {args}")
    return 1


def check_shell(script: str) -> int:
    """Every `python manage.py …` and `celery …` of a shell script (one line per command, or
    commands joined with && || ; |), parsed as above."""
    lexer = shlex.shlex(script.replace("\n", " ; "), posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    simple: list[list[str]] = [[]]
    for token in lexer:
        if token in SHELL_CONTROL:
            simple.append([])
        else:
            simple[-1].append(token)
    checked = 0
    for command in simple:
        while command and command[0] in SHELL_KEYWORDS:
            command = command[1:]
        while len(command) >= 2 and command[-2] in {">", ">>"}:
            command = command[:-2]  # a redirection
        if command[:2] == ["python", "manage.py"] or command[:1] == ["celery"]:
            checked += check_entry_point(command)
    assert checked, f"no entry point of the project in {script!r}"
    return checked


def check_celery(args: list[str]) -> click.Context:
    """`celery -A APP SUBCOMMAND …`: APP is the project's Celery app, and the subcommand
    accepts every option (parsed by celery's own command line)."""
    assert args[1] in ("-A", "--app"), args
    app = find_app(args[2])
    assert app is importlib.import_module("scheduler_project.celery").app, args
    name, rest = args[3], args[4:]
    assert name in celery_cli.commands, args
    obj = CLIContext(app=app, no_color=True, workdir=None, quiet=True)
    context = celery_cli.commands[name].make_context(name, rest, obj=obj)
    if name in ("inspect", "control"):
        assert Panel.meta[context.params["command"]].type == name, args
    return context


def check_manage(args: list[str]) -> None:
    """`manage.py NAME …`: a command of the project (or Django's) that accepts the options."""
    name = args[0]
    commands = get_commands()
    assert name in commands, f"manage.py has no command {name!r}"
    command = load_command_class(commands[name], name)
    command.create_parser("manage.py", name).parse_args(args[1:])


def gunicorn_options(args: list[str]) -> Any:
    assert args[0] == "gunicorn", args
    return GunicornConfig().parser().parse_args(args[1:])


def check_gunicorn(args: list[str]) -> None:
    (target,) = gunicorn_options(args).args
    module, _, attribute = target.partition(":")
    assert callable(getattr(importlib.import_module(module), attribute)), target


def gunicorn_graceful_timeout(args: list[str]) -> float:
    given = gunicorn_options(args).graceful_timeout
    return GunicornConfig().graceful_timeout if given is None else given


def option(args: list[str], name: str) -> str:
    """The value of `--name=value` or `name value` in an argv."""
    for index, arg in enumerate(args):
        if arg == name:
            return args[index + 1]
        if arg.startswith(f"{name}="):
            return arg.split("=", 1)[1]
    raise LookupError(f"{name} not in {args}")


def worker_queues(args: list[str]) -> set[str]:
    return set(csv(option(args, "-Q")))


def ping_destination(args: list[str]) -> str:
    """The node name a `celery inspect ping` health check addresses (the only command of it)."""
    script = args[2] if args[:2] == ["sh", "-c"] else shlex.join(args)
    command = shlex.split(script)
    assert command[3:5] == ["inspect", "ping"], command
    check_celery(command)
    return option(command, "-d")


# --- /metrics --------------------------------------------------------------------------

SUFFIXES = {
    "gauge": ("",),
    "counter": ("_total",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("", "_sum", "_count"),
}


def exported_series(text: str) -> dict[str, dict[str, set[str]]]:
    """The series names a Prometheus text page exports (a counter as NAME_total, a histogram
    as its _bucket/_sum/_count, also while it has no sample yet), each with the label
    values its samples carry."""
    series: dict[str, dict[str, set[str]]] = {}
    for family in text_string_to_metric_families(text):
        for suffix in SUFFIXES[family.type]:
            series.setdefault(family.name + suffix, {})
        for sample in family.samples:
            labels = series.setdefault(sample.name, {})
            for label, value in sample.labels.items():
                labels.setdefault(label, set()).add(value)
    return series


def check_promql(expr: str, series: dict[str, dict[str, set[str]]]) -> set[str]:
    """Fail unless every metric of `expr` is exported, every `label="value"` it selects is
    a value the metric carries, and every label it groups by belongs to one of its metrics.
    Returns the labels its metrics carry (for legends and annotations)."""
    names = set(METRIC.findall(expr))
    assert names, f"no scheduler_ metric in {expr!r}"
    missing = names - set(series)
    assert not missing, f"{sorted(missing)} not exported by /metrics: {expr!r}"
    for name, matchers in SELECTOR.findall(expr):
        for label, value in MATCHER.findall(matchers):
            assert value in series[name].get(label, set()), f'{name}{{{label}="{value}"}}'
    labels = {label for name in names for label in series[name]} | {"le"}
    for grouping in GROUPING.findall(expr):
        assert set(csv(grouping)) <= labels, f"by ({grouping}) in {expr!r}"
    return labels
