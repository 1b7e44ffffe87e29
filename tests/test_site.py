"""docs/: the site's API reference covers every module, and its browser check (docs/check_site.py) sees
what a reader would: raw TeX, a broken image, a request to the network."""
import importlib
import importlib.util
import pathlib
import pkgutil
import shutil

import pytest

import npscore

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _module(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "docs" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_module_has_a_page_in_the_api_reference():
    listed = {name for names in _module("conf").API.values() for name in names.split()}
    names = [m.name for m in pkgutil.walk_packages(npscore.__path__, "npscore.") if not m.name.endswith("__main__")]
    modules = {n.removeprefix("npscore.") for n in names
               if importlib.import_module(n).__name__ == n}          # not the aliases kept for old imports
    assert modules - listed == set(), "modules without an API page: add them to API in docs/conf.py"
    assert listed - modules == set(), "API pages for modules that do not exist"


@pytest.mark.skipif(not (shutil.which("chromium") and importlib.util.find_spec("websocket")),
                    reason="needs Chromium and websocket-client (the docs extra)")
def test_the_browser_check_fails_on_raw_tex_a_broken_image_and_a_network_request(tmp_path):
    site = tmp_path / "site"
    (site / "docs").mkdir(parents=True)
    (site / "docs" / "index.html").write_text(
        "<html><head><title>bad</title></head><body><p><span class='math'>\\(\\epsilon = 2 \\alpha_i\\)</span></p>"
        "<img src='missing.png'><img src='https://example.invalid/figure.png'></body></html>")
    with pytest.raises(SystemExit) as failed:
        _module("check_site").main([str(site)])
    said = str(failed.value)
    assert "raw TeX on screen" in said and "image not loaded: missing.png" in said
    assert "fetched from the network: https://example.invalid/figure.png" in said
