"""The bench tests use the client tests' fixtures: a real agent with the tiny models RUNNING."""

from __future__ import annotations

from tests.client.conftest import agent, lookout_client, red_png, start_agent, tiny_packages  # noqa: F401
