"""Pick the models that may serve a request, cheapest first."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ModelCard:
    """What the router knows about a model: its price, context window and capabilities.

    Prices are per million tokens, as providers quote them.
    """

    name: str
    context_window: int
    max_new_tokens: int
    price_in: float = 0.0
    price_out: float = 0.0
    capabilities: tuple[str, ...] = ()

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """The price of one call with these token counts."""
        return (prompt_tokens * self.price_in + completion_tokens * self.price_out) / 1_000_000


@dataclass
class RoutePlan:
    """The models to try, in order, and why each other model was left out."""

    order: list[str]
    skipped: list[tuple[str, str]] = field(default_factory=list)


class ModelRouter:
    """Order the registered models for one request: capable, fitting, cheapest first.

    A model qualifies when it has the capability the route needs and its context window holds
    the prompt packed for it plus its answer. Qualifying models are ordered by what this very
    call would cost at most (prompt tokens at the input price, `max_new_tokens` at the output
    price), ties broken by the order of registration; the first is the router's choice and the
    rest are the fallback and escalation chain. A route may instead name its chain explicitly.

    Usage:
    ```python
    router = ModelRouter([ModelCard("local", 2048, 64, capabilities=("answer",)), ...])
    plan = router.plan("answer", prompt_tokens={"local": 900, "remote": 850})
    plan.order      # ["local", "remote"]
    ```
    """

    def __init__(self, models: list[ModelCard]) -> None:
        """Create the router over the registry's models, in registration order."""
        names = [m.name for m in models]
        if len(set(names)) != len(names):
            raise ValueError(f"model names must be unique (got {names})")
        self.models = {m.name: m for m in models}

    def plan(
        self,
        capability: str,
        prompt_tokens: dict[str, int],
        explicit: list[str] | None = None,
    ) -> RoutePlan:
        """The chain for a request needing `capability`.

        :param prompt_tokens: the prompt's size in each candidate's own tokens; a model missing
            here was given no prompt (e.g. its window holds no passage) and is left out.
        :param explicit: a fixed chain (model names, in order) instead of cheapest first.
        """
        candidates = explicit if explicit is not None else list(self.models)
        order: list[tuple[float, int, str]] = []
        skipped: list[tuple[str, str]] = []
        for position, name in enumerate(candidates):
            card = self.models[name]
            if capability not in card.capabilities:
                skipped.append((name, f"lacks the capability {capability!r}"))
                continue
            if name not in prompt_tokens:
                skipped.append((name, f"its context window ({card.context_window}) is too small"))
                continue
            needed = prompt_tokens[name] + card.max_new_tokens
            if needed > card.context_window:
                skipped.append(
                    (name, f"the prompt needs {needed} tokens, its window is {card.context_window}")
                )
                continue
            price = (
                0.0 if explicit is not None else card.cost(prompt_tokens[name], card.max_new_tokens)
            )
            order.append((price, position, name))
        return RoutePlan([name for _, _, name in sorted(order)], skipped)
