from __future__ import annotations

import os

import pytest

from tests.cli.test_cli import assert_one_line_error, envkit
from tests.shop.conftest import SMALL_SHOP


@pytest.mark.slow
def test_shop_play_in_the_terminal_buys_a_product(tmp_path):
    os.environ.setdefault("ENVKIT_CACHE", str(tmp_path))
    result = envkit("shop", "play", "--shop", SMALL_SHOP, "--seed", "2", stdin="search[shoes]\nclick[b0]\nquit\n")
    assert result.returncode == 0, result.stderr
    assert "Available actions: search[<query>]" in result.stdout
    assert "Page 1 (Total results: 50)" in result.stdout
    assert "click[b0] is not on this page" in result.stdout  # a refused click is shown, not a crash


@pytest.mark.slow
def test_shop_commands_reject_bad_input_in_one_line():
    assert_one_line_error(envkit("shop", "play", "--mode", "firefox"), "unknown shop mode")
    assert_one_line_error(envkit("shop", "play", "--shop", "shop:products=3"), "10 to 10,000,000 products")
    assert_one_line_error(envkit("shop", "serve", "--shop", "shop:colour=red"), "unknown shop option")
    assert_one_line_error(envkit("shop", "serve", "--split", "holdout", "--shop", SMALL_SHOP), "unknown split")
    assert_one_line_error(envkit("shop", "serve", "--port", "0"), "--port")


@pytest.mark.slow
def test_shop_doctor_reports_what_browser_mode_needs():
    from tests.shop.test_browser import find_chromium

    result = envkit("shop", "doctor")
    for check in ("playwright", "chromium", "cache folder"):
        assert check in result.stdout
    if find_chromium() is not None and result.returncode == 0:
        assert "browser mode is ready" in result.stdout and "launch" in result.stdout
    hidden = envkit("shop", "doctor", "--no-launch")
    assert hidden.returncode in (0, 1)


def test_shop_doctor_says_how_to_install_a_missing_chromium(tmp_path):
    import subprocess
    import sys

    env = {**os.environ, "ENVKIT_CHROMIUM": str(tmp_path / "no-chromium")}
    result = subprocess.run(
        [sys.executable, "-m", "envkit", "shop", "doctor"], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 1
    assert "apt-get install chromium" in result.stdout and "MISSING" in result.stdout


def test_shop_doctor_prints_the_extra_to_install_literally(monkeypatch, capsys):
    """Rich markup ate "[shop]": the line read pip install 'mem1-envkit'."""
    import importlib.util

    from envkit.cli.app import main

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "jinja2" else real(name, *a))
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit):
        main(["shop", "doctor", "--no-launch"])
    assert "pip install 'mem1-envkit[shop]'" in capsys.readouterr().out
