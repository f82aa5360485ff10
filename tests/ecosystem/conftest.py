"""Fixtures of the ecosystem tests (docs/METRICS.md, "Checked by Prometheus's tools")."""

import os

import pytest

import ecosystem


@pytest.fixture
def children(queues):
    """Every long-running child of the test, stopped at its end whatever
    happened (before its queues are deleted: set up after them)."""
    c = ecosystem.Children()
    try:
        yield c
    finally:
        c.stop_all()


@pytest.fixture
def tool():
    return ecosystem.Tool(ecosystem.need_env_path("SHMQ_TOOL", "shmq tool (build/bin/shmq)"))


@pytest.fixture
def shmqd_path():
    return ecosystem.need_env_path("SHMQD", "shmqd (build/bin/shmqd)")


@pytest.fixture
def promtool():
    return ecosystem.need_program("SHMQ_PROMTOOL", "promtool", "prometheus")


@pytest.fixture
def prometheus_path():
    return ecosystem.need_program("SHMQ_PROMETHEUS", "prometheus", "prometheus")


@pytest.fixture
def queues(tool):
    """Makes queues with names of this test process; deletes them at the end."""
    made = []

    def make(role, *options):
        name = f"eco-{role}-{os.getpid()}"
        tool("create", name, *options)
        made.append(name)
        return name

    try:
        yield make
    finally:
        for name in made:
            tool("delete", name, check=False)
