"""The npscore command: its parser's choices come from the registries, every flag has help and a
default, --debug shows the traceback."""
import pytest

from npscore.commands import cli
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


def test_version_and_debug_anywhere(tmp_path, capsys):
    with pytest.raises(SystemExit) as done:
        cli.build_parser().parse_args(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("npscore ")
    with pytest.raises(FileNotFoundError):                  # after the command as well as before it
        cli.main(["sample", "--checkpoint", str(tmp_path / "none.npz"), "--out", str(tmp_path), "--debug"])
    assert cli.main(["sample", "--checkpoint", str(tmp_path / "none.npz"), "--out", str(tmp_path)]) == 2


def test_each_default_is_shown_once():
    commands = next(a for a in cli.build_parser()._actions if a.dest == "command").choices
    for name, sub in commands.items():
        fmt = sub._get_formatter()
        for action in sub._actions:
            shown = fmt._get_help_string(action) or ""
            assert shown.count("(default:") <= 1, (name, action.option_strings, shown)
            assert "(default: None)" not in shown and "(default: False)" not in shown, (name, shown)
    assert "(default: $NPSCORE_BACKEND, else numpy)" in " ".join(commands["train"].format_help().split())
