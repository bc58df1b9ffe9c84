"""One OpenFaaS stack for the deployment tests: the real gateway in front of the local provider, with the
whole stack.yml deployed through it (about 10 s when the machine is quiet)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from localfaas import stack as stackfile
from tests.support.openfaas import REPO, SECRETS, OpenFaaSStack, need_gateway


@pytest.fixture(scope="session")
def openfaas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenFaaSStack]:
    need_gateway()
    stack = OpenFaaSStack(tmp_path_factory.mktemp("openfaas")).start()
    try:
        for name, value in SECRETS.items():
            assert stack.create_secret(name, value or stack.secret(name)).status == 201
        replies = stack.deploy()
        expected = sorted(stackfile.load(REPO / "stack.yml", {}).functions)
        assert {n: r.status for n, r in replies.items()} == {n: 202 for n in expected}, \
            {n: r.body[:300] for n, r in replies.items()}
        yield stack
    finally:
        stack.stop()
