"""One operator action over many objects, each through its own single-object service.

Every object is its own transaction (the single-object services are atomic): a refusal of one
(a `ConflictError`, a `ValidationError`, a row deleted meanwhile) is recorded by its key and
never undoes the others. Each success is audited by the single-object service, once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from django.core.exceptions import ObjectDoesNotExist, ValidationError

from scheduler_project.errors import ConflictError

K = TypeVar("K")  # how the caller names an object: its id
T = TypeVar("T")  # what the single-object service returns

NOT_FOUND = "It no longer exists."
MAX_OBJECTS = 500  # one request's worth: a page of a list is 50


@dataclass(frozen=True)
class Refusal(Generic[K]):
    key: K
    message: str


@dataclass
class BulkResult(Generic[K, T]):
    done: list[T] = field(default_factory=list)
    refused: list[Refusal[K]] = field(default_factory=list)


def _message(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    if isinstance(exc, ObjectDoesNotExist):
        return NOT_FOUND
    return str(exc)


def bulk_apply(keys: Iterable[K], act: Callable[[K], T]) -> BulkResult[K, T]:
    """`act(key)` for each distinct key in order; domain refusals are collected, any other
    error propagates (after the earlier objects were committed)."""
    result: BulkResult[K, T] = BulkResult()
    for key in dict.fromkeys(keys):
        try:
            result.done.append(act(key))
        except (ConflictError, ValidationError, ObjectDoesNotExist) as exc:
            result.refused.append(Refusal(key, _message(exc)))
    return result
