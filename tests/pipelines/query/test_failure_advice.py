"""When no model can answer, the advice fits the models that failed: an endpoint is checked
for being reachable, a model in this process is not."""

import pytest

from components.errors import AllModelsFailedError
from pipelines.config import Settings
from pipelines.query.pipeline import QAPipeline
from tests.servers import unused_base_url


def failure(tmp_path, models: dict, **request) -> str:
    settings = Settings.model_validate({"data_dir": str(tmp_path), "models": models})
    qa = QAPipeline.from_settings(settings)
    try:
        with pytest.raises(AllModelsFailedError) as caught:
            qa.complete("Reply with the product code:", **request)
    finally:
        qa.close()
    return str(caught.value)


def test_an_in_process_model_s_failure_does_not_send_the_user_to_endpoints(tmp_path):
    # A valid JSON schema that llama.cpp's grammar refuses (a pattern must be anchored).
    schema = {"type": "object", "properties": {"code": {"type": "string", "pattern": "[A-Z]+"}}}
    message = failure(tmp_path, {"local": {"retries": 0}}, json_schema=schema)
    assert "local: error" in message and 'Pattern must start with "^"' in message
    assert "reachable" not in message and "endpoint" not in message
    assert "local runs in this process (llama.cpp)" in message and "models.local.model" in message


def test_an_endpoint_that_does_not_answer_is_to_be_checked(tmp_path):
    remote = {"provider": "openai", "base_url": unused_base_url(), "model": "m", "retries": 0}
    message = failure(tmp_path, {"remote": remote})
    assert "remote: connection" in message
    assert "Check that the model endpoints are running and reachable (remote)" in message
    assert "in this process" not in message
