"""When tracing turns on, and what a JSON log line holds."""

from __future__ import annotations

import json
import logging
import sys

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from session_service.telemetry import JsonLogFormatter, tracing_enabled


@pytest.mark.parametrize(
    ("environ", "enabled"),
    [
        ({}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4317/v1/traces"}, True),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"}, False),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"}, False),
        ({"OTEL_SDK_DISABLED": "TRUE", "OTEL_TRACES_EXPORTER": "otlp"}, False),
        ({"OTEL_SDK_DISABLED": "false", "OTEL_TRACES_EXPORTER": "otlp"}, True),
    ],
)
def test_tracing_is_on_only_when_otlp_export_is_asked_for_and_the_sdk_is_enabled(
    environ: dict[str, str], enabled: bool
) -> None:
    assert tracing_enabled(environ) is enabled


def _record(message: str, **extra: object) -> logging.LogRecord:
    logger = logging.getLogger("session_service.test")
    return logger.makeRecord(logger.name, logging.WARNING, __file__, 1, message, (), None, extra=extra)


def test_json_log_line_has_time_level_logger_message_and_extra_fields_on_one_line() -> None:
    line = JsonLogFormatter().format(_record("two\nlines", rpc_method="Get"))
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "session_service.test"
    assert entry["message"] == "two\nlines"
    assert entry["rpc_method"] == "Get"
    assert entry["time"].endswith("Z")
    assert "trace_id" not in entry and "span_id" not in entry


def test_json_log_line_carries_the_ids_of_the_active_span() -> None:
    tracer = TracerProvider().get_tracer("test")  # a private provider: nothing global changes
    with tracer.start_as_current_span("work") as span:
        entry = json.loads(JsonLogFormatter().format(_record("inside")))
    context = span.get_span_context()
    assert entry["trace_id"] == trace.format_trace_id(context.trace_id)
    assert entry["span_id"] == trace.format_span_id(context.span_id)


def test_json_log_line_includes_the_exception_text() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        logger = logging.getLogger("session_service.test")
        record = logger.makeRecord(logger.name, logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    entry = json.loads(JsonLogFormatter().format(record))
    assert "ValueError: boom" in entry["exception"]
