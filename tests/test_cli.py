"""`infoloss explain`: the tutorials' worked examples as one command, values checked by hand."""

from __future__ import annotations

import math
import re
import subprocess
import sys

import pytest

from infoloss.cli import main


def _value(out: str, label: str) -> float:
    match = re.search(re.escape(label) + r"\s*= ([-0-9.e+inf]+)", out)
    assert match, f"{label!r} not in output:\n{out}"
    return float(match.group(1))


def test_explain_tutorial_example_in_nats(capsys):
    assert main(["explain", "--probs", "0.1", "0.1", "0.8", "--target", "2"]) == 0
    out = capsys.readouterr().out
    ce = -math.log(0.8)
    h = -(2 * 0.1 * math.log(0.1) + 0.8 * math.log(0.8))
    r = 0.2 * math.log(1e6)
    assert _value(out, "cross entropy CE = -log p[target]") == pytest.approx(ce, rel=1e-5)
    assert _value(out, "entropy H(p) = -sum p log p") == pytest.approx(h, rel=1e-5)
    assert _value(out, "swapped CE R = -sum p log max(q, eps)") == pytest.approx(r, rel=1e-5)
    assert _value(out, "MIN-ENT = CE + 0.1 * H") == pytest.approx(ce + 0.1 * h, rel=1e-5)
    assert _value(out, "MIX-ENT = CE + 0.1 * R") == pytest.approx(ce + 0.1 * r, rel=1e-5)
    assert "| 2 (target) | 0.8 | 0.223144 |" in out


def test_explain_logits_in_bits(capsys):
    assert main(["explain", "--logits", "2", "1", "0.1", "--target", "0", "--base", "2"]) == 0
    out = capsys.readouterr().out
    assert "values in bits" in out
    p0 = math.exp(2) / (math.exp(2) + math.exp(1) + math.exp(0.1))
    assert _value(out, "cross entropy CE = -log p[target]") == pytest.approx(-math.log2(p0), rel=1e-5)


def test_explain_zero_probability_class(capsys):
    assert main(["explain", "--probs", "0", "0.5", "0.5", "--target", "1", "--base", "2"]) == 0
    out = capsys.readouterr().out
    assert _value(out, "entropy H(p) = -sum p log p") == pytest.approx(1.0)
    assert "| 0 | 0 | inf |" in out


@pytest.mark.parametrize(
    "argv,message",
    [
        (["explain", "--probs", "0.5", "0.6", "--target", "0"], "must sum to 1"),
        (["explain", "--probs", "0.5", "0.5", "--target", "2"], "class index in 0..1"),
        (["explain", "--probs", "1.5", "-0.5", "--target", "0"], r"must lie in \[0, 1\]"),
    ],
)
def test_explain_bad_input(argv, message):
    with pytest.raises(SystemExit, match=message):
        main(argv)


def test_python_dash_m_entry_point():
    result = subprocess.run(
        [sys.executable, "-m", "infoloss", "explain", "--probs", "0.25", "0.75", "--target", "1"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "cross entropy" in result.stdout


@pytest.mark.parametrize(
    "argv,message",
    [
        (["explain", "--probs", "0.5", "0.5", "--target", "0", "--base", "1"], "base must be None"),
        (["explain", "--probs", "0.5", "0.5", "--target", "0", "--eps", "2"], r"eps must lie in the open interval"),
        (["explain", "--logits", "1", "nan", "--target", "0"], "must be finite numbers or -inf"),
        (["explain", "--probs", "nan", "0.5", "--target", "0"], r"must lie in \[0, 1\]"),
    ],
)
def test_explain_bad_options_exit_cleanly(argv, message):
    with pytest.raises(SystemExit, match=message):
        main(argv)
