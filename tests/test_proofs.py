"""Each proof passes, and fails when its claim is broken on purpose."""
import importlib

import pytest

from proofs import PROOFS


@pytest.mark.parametrize("name", PROOFS)
def test_proof_holds_and_can_fail(name, capsys):
    mod = importlib.import_module(f"proofs.{name}")
    kwargs = {"figure": False} if name == "all_argmins" else {}
    assert mod.main(**kwargs) == 0, capsys.readouterr().out
    assert mod.main(break_claim=True, **kwargs) == 1
