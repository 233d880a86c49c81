"""Consistency checks of the global schedules and their repair."""

from schedules.validation.base import CheckResult, Finding, Scope
from schedules.validation.repair import repair
from schedules.validation.suite import CHECKS, Check, run_checks

__all__ = ["CHECKS", "Check", "CheckResult", "Finding", "Scope", "repair", "run_checks"]
