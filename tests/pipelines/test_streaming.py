"""StreamRelay: what a client holds after the stream always adds up to the final answer."""

from pipelines.streaming import StreamRelay, plain


def relay_of(*drafts):
    sent = []
    relay = StreamRelay(sent.append)
    for piece in drafts:
        relay({"type": "token", "model": "m", "text": piece})
    return relay, sent


def held(sent):
    """The text a client holds: the pieces since the last restart."""
    text = ""
    for event in sent:
        text = "" if event["type"] == "restart" else text + event["text"]
    return text


def test_leading_space_is_dropped_and_markers_do_not_restart():
    relay, sent = relay_of(" Three", " days", " per week.")
    relay.finish("Three days per week [1].")
    assert [e["text"] for e in sent] == ["Three", " days", " per week."]
    assert plain(held(sent)) == plain("Three days per week [1].")


def test_a_cut_draft_is_completed_and_a_different_answer_restarts():
    relay, sent = relay_of("Three", " days")
    relay.finish("Three days per week [1].")
    assert sent[-1]["text"] == " per week." and held(sent) == "Three days per week."
    relay, sent = relay_of("Orders ship by", " pigeon.")
    relay.finish("The documents do not say.", "docent abstained: weak")
    assert sent[-2] == {"type": "restart", "reason": "docent abstained: weak", "model": None}
    assert held(sent) == "The documents do not say."


def test_a_restart_without_a_draft_is_not_sent():
    relay, sent = relay_of()
    relay({"type": "restart", "model": "m", "reason": "timeout"})
    relay.finish("Hello!")
    assert sent == [{"type": "token", "text": "Hello!", "model": None}]
