"""Consistency checks of the global schedules and their repair."""

from schedules.validation.checks import CHECKS, Check, CheckResult, Finding, Scope, run_checks
from schedules.validation.repair import repair

__all__ = ["CHECKS", "Check", "CheckResult", "Finding", "Scope", "repair", "run_checks"]
