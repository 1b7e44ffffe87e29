"""Each proof passes, and fails when its claim is broken (an input or an assumption changed)."""
import importlib
import inspect

import pytest

from proofs import PROOFS


@pytest.mark.parametrize("name", PROOFS)
def test_proof_holds_and_fails_when_its_claim_is_broken(name, capsys):
    main = importlib.import_module(f"proofs.{name}").main
    assert main() == 0, capsys.readouterr().out
    assert main(break_claim=True) == 1


def test_break_claim_changes_an_input_not_the_answer():
    """No proof edits its computed answer after the fact: break_claim is read before the checks."""
    for name in PROOFS:
        src = inspect.getsource(importlib.import_module(f"proofs.{name}"))
        assert "if break_claim:\n        a_esm" not in src and "+ (0.5 if break_claim" not in src
        assert "break_claim" in src.split("def main", 1)[1]


def test_figures_only_when_asked(tmp_path):
    from proofs import all_argmins
    assert all_argmins.main() == 0 and not list(tmp_path.iterdir())
    assert all_argmins.main(figure=str(tmp_path / "a.png")) == 0 and (tmp_path / "a.png").stat().st_size > 1000
