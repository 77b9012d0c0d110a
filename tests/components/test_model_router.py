"""ModelRouter: capable, fitting, cheapest first; explicit chains kept in order."""

import pytest

from components.routing.model_router import ModelCard, ModelRouter

CARDS = [
    ModelCard("big", 8192, 64, price_in=2.0, price_out=8.0, capabilities=("answer", "chat")),
    ModelCard("small", 1024, 64, price_in=0.1, price_out=0.4, capabilities=("answer",)),
    ModelCard("free", 2048, 64, capabilities=("chat",)),
]


def test_cheapest_capable_model_that_fits_comes_first():
    plan = ModelRouter(CARDS).plan("answer", {"big": 900, "small": 900, "free": 900})
    assert plan.order == ["small", "big"]
    assert plan.skipped == [("free", "lacks the capability 'answer'")]


def test_a_prompt_too_large_for_a_window_skips_that_model():
    plan = ModelRouter(CARDS).plan("answer", {"big": 3000, "small": 3000})
    assert plan.order == ["big"]
    assert plan.skipped[0][0] == "small" and "3064 tokens" in plan.skipped[0][1]


def test_a_model_without_a_prompt_is_skipped_as_too_small():
    plan = ModelRouter(CARDS).plan("answer", {"big": 100})
    assert plan.order == ["big"]
    assert "too small" in dict(plan.skipped)["small"]


def test_an_explicit_chain_keeps_its_order():
    plan = ModelRouter(CARDS).plan("answer", {"big": 10, "small": 10}, explicit=["big", "small"])
    assert plan.order == ["big", "small"]


def test_cost_is_per_million_tokens():
    assert CARDS[0].cost(1_000_000, 500_000) == pytest.approx(6.0)


def test_duplicate_names_are_refused():
    with pytest.raises(ValueError, match="unique"):
        ModelRouter([CARDS[0], CARDS[0]])
