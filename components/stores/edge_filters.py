"""Translate Haystack metadata filters into Qdrant Edge filters."""

from datetime import datetime
from typing import Any

from haystack.errors import FilterError
from qdrant_edge import (
    FieldCondition,
    Filter,
    HasIdCondition,
    IsEmptyCondition,
    MatchValue,
    RangeDateTime,
    RangeFloat,
)

LOGICAL = {"AND", "OR", "NOT"}
RANGES = {">": "gt", ">=": "gte", "<": "lt", "<=": "lte"}
COMPARISONS = {"==", "!=", "in", "not in", *RANGES}


def convert_filters(filters: dict[str, Any] | None) -> Filter | None:
    """The Qdrant Edge filter for a Haystack filter (None or {} for no filter).

    Fields are payload paths as the store writes them: `meta.<key>`, `content`, `id`. The
    semantics are Haystack's: `!=` and `not in` also match documents without the field,
    `== None` matches documents without it, a range with None matches nothing, and a range
    on a string compares ISO 8601 dates.

    Usage:
    ```python
    convert_filters({"field": "meta.tenant", "operator": "==", "value": "acme"})
    ```

    Raises:
        FilterError: the filter is malformed, or compares a value the operator cannot take.
    """
    if not filters:
        return None
    if not isinstance(filters, dict):
        raise FilterError(f"a filter is a dict, not {type(filters).__name__}: {filters!r}")
    condition = _condition(filters)
    return condition if isinstance(condition, Filter) else Filter(must=[condition])


def _condition(node: dict[str, Any]) -> Any:
    if "field" not in node and "conditions" not in node:
        raise FilterError(f"a filter needs 'field' or 'conditions': {node!r}")
    if "operator" not in node:
        raise FilterError(f"a filter needs an 'operator': {node!r}")
    operator = node["operator"]
    if "conditions" in node:
        if operator not in LOGICAL:
            raise FilterError(f"unknown logical operator {operator!r}; use AND, OR or NOT")
        conditions = [_condition(c) for c in node["conditions"]]
        if operator == "AND":
            return Filter(must=conditions)
        if operator == "OR":
            return Filter(should=conditions)
        return Filter(must_not=[Filter(must=conditions)])
    if operator in LOGICAL:
        raise FilterError(f"the logical operator {operator} needs 'conditions': {node!r}")
    if operator not in COMPARISONS:
        raise FilterError(
            f"unknown comparison operator {operator!r}; use one of {', '.join(sorted(COMPARISONS))}"
        )
    if "value" not in node:
        raise FilterError(f"a comparison needs a 'value': {node!r}")
    return _comparison(node["field"], operator, node["value"])


def _comparison(field: str, operator: str, value: Any) -> Any:
    if operator == "==":
        return _equal(field, value)
    if operator == "!=":
        return Filter(must_not=[_equal(field, value)])
    if operator in ("in", "not in"):
        if not isinstance(value, list):
            raise FilterError(f"'{operator}' on {field} needs a list (got {value!r})")
        matches = Filter(should=[_equal(field, v) for v in value]) if value else _nothing()
        return matches if operator == "in" else Filter(must_not=[matches])
    return _range(field, RANGES[operator], value)


def _equal(field: str, value: Any) -> Any:
    if value is None:
        return IsEmptyCondition(field)
    if isinstance(value, bool | int | str):
        return FieldCondition(field, match=MatchValue(value))
    if isinstance(value, float):
        return FieldCondition(field, range=RangeFloat(gte=value, lte=value))
    raise FilterError(f"cannot compare {field} with {value!r}: use a string, number or bool")


def _range(field: str, bound: str, value: Any) -> Any:
    if value is None:
        return _nothing()
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise FilterError(f"cannot compare {field} with {value!r}: use a number or an ISO date")
    if isinstance(value, str):
        try:
            datetime.fromisoformat(value)
        except ValueError as e:
            raise FilterError(
                f"cannot compare {field} with the string {value!r}: only ISO 8601 dates and "
                "numbers can be compared"
            ) from e
        return FieldCondition(field, range=RangeDateTime(**{bound: value}))
    return FieldCondition(field, range=RangeFloat(**{bound: float(value)}))


def _nothing() -> Any:
    """A condition no point meets."""
    return HasIdCondition(set())
