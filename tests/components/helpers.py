"""Helpers for component tests."""

from haystack.core.serialization import component_from_dict, component_to_dict


def round_trip(instance):
    """Serialise a component to a dict and back, as a YAML pipeline would."""
    data = component_to_dict(instance, "c")
    return component_from_dict(type(instance), data, "c"), data
