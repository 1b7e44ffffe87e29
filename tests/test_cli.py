"""The npscore command: its parser's choices come from the registries, every flag has help and a
default, --debug shows the traceback."""
import pytest

from npscore import cli
from npscore.mnist import run


def test_cli_sampler_choices_come_from_the_registry(capsys):
    parser = cli.build_parser()
    from npscore.sampling import SAMPLERS
    assert set(run.SAMPLERS) <= set(SAMPLERS)
    for command in (["mnist"], ["sample", "--checkpoint", "c.npz"]):
        for name in run.SAMPLERS:
            assert parser.parse_args(command + ["--sampler", name]).sampler == name
        with pytest.raises(SystemExit):
            parser.parse_args(command + ["--sampler", "ddpm"])
        assert "argument --sampler: invalid choice: 'ddpm'" in capsys.readouterr().err


def test_help_shows_every_default(capsys):
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices
    for name, p in sub.items():
        for action in p._actions:
            if action.dest != "help":
                assert action.help, f"{name} {action.option_strings} has no help"
        assert "(default:" in p.format_help()
    assert "``" not in parser.format_help()


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(FileNotFoundError):
        cli.main(["--debug", "sample", "--checkpoint", str(tmp_path / "none.npz"), "--out", str(tmp_path)])
