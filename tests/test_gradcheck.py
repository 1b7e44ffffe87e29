"""npscore.gradcheck: the hand-written passes against autograd, its command, and that it catches a wrong
derivative."""
from npscore import MLP, backend
from npscore.commands import cli
from npscore.gradcheck import check_mlp


def test_gradient_checker_and_its_command(capsys):
    model = MLP([3, 5, 4, 3], "swish")
    p = model.init(0)
    x = backend.rng(1).normal((4, 3))
    errors = check_mlp(model, p, x)
    assert set(errors) == {"apply", "vjp_params", "vjp_x", "jvp", "trace", "trace_grad"}
    assert max(errors.values()) < 1e-10
    assert cli.main(["check", "--sizes", "3,6,6,3", "--activation", "tanh"]) == 0
    out = capsys.readouterr().out
    assert "all passes agree with autograd to 1e-10" in out and "trace_grad" in out and "not checked" not in out
    assert cli.main(["check", "--sizes", "3,16,2"]) == 0                   # no trace: said, not dropped
    assert "trace, trace_grad: not checked (the Jacobian of a 3 -> 2 map is not square" in capsys.readouterr().out


def test_gradient_checker_catches_a_wrong_derivative(monkeypatch):
    from npscore.nn import activations
    right = activations.softplus

    def wrong(z, order=0):
        out = right(z, order)
        return out[:1] + tuple(1.01 * d for d in out[1:])
    monkeypatch.setitem(activations.ACTIVATIONS, "softplus", wrong)
    model = MLP([2, 4, 4, 2], "softplus")
    errors = check_mlp(model, model.init(0), backend.rng(1).normal((3, 2)))
    assert errors["apply"] < 1e-12 and errors["vjp_params"] > 1e-4 and errors["trace"] > 1e-4
