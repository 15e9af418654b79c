"""Terminal view: ANSI colours on a TTY, plain word[+0.42] otherwise."""

import io

import pytest

from keras_text_lrp.errors import InvalidArgumentError
from keras_text_lrp.views import color_mode, colorize, print_heatmap


class _TTY(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture
def clean_env(monkeypatch):
    for name in ("NO_COLOR", "COLORTERM", "TERM"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_plain_format():
    assert (
        colorize(["good", "bad", "ok"], [0.421, -1.0, 0.0], mode="plain")
        == "good[+0.42] bad[-1.00] ok[+0.00]"
    )
    assert colorize(["x"], [0.12345], mode="plain", digits=3) == "x[+0.123]"


def test_auto_mode_detection(clean_env):
    assert color_mode(io.StringIO()) == "plain"
    assert color_mode(_TTY()) == "256"
    clean_env.setenv("COLORTERM", "truecolor")
    assert color_mode(_TTY()) == "truecolor"
    clean_env.setenv("NO_COLOR", "1")
    assert color_mode(_TTY()) == "plain"
    assert "\x1b" not in colorize(["a"], [1.0], stream=_TTY())


def test_truecolor_and_256_codes(clean_env):
    out = colorize(["good", "bad"], [2.0, -1.0], mode="truecolor")
    assert out == (
        "\x1b[48;2;202;0;32m\x1b[38;2;255;255;255mgood\x1b[0m "
        "\x1b[48;2;130;184;216m\x1b[38;2;0;0;0mbad\x1b[0m"
    )
    out = colorize(["good", "zero"], [1.0, 0.0], mode="256")
    # (202, 0, 32): nearest cube levels 215, 0, 0 = indices (4, 0, 0) -> 16 + 36 * 4 = 160; white -> 231
    assert out == "\x1b[48;5;160m\x1b[38;5;231mgood\x1b[0m \x1b[48;5;231m\x1b[38;5;16mzero\x1b[0m"


def test_print_heatmap_uses_file(clean_env):
    buffer = io.StringIO()
    print_heatmap(["a", "b"], [1.0, -1.0], file=buffer)
    assert buffer.getvalue() == "a[+1.00] b[-1.00]\n"
    tty = _TTY()
    print_heatmap(["a"], [1.0], file=tty)
    assert tty.getvalue().startswith("\x1b[48;5;")


def test_control_characters_are_escaped():
    out = colorize(["a\x1b[2Jb", "\u202eevil", "x\ny"], [1.0, 1.0, 1.0], mode="truecolor")
    assert "\x1b[2J" not in out and "\\x1b[2Jb" in out
    assert "\u202e" not in out and "\\u202eevil" in out and "\n" not in out


def test_errors():
    with pytest.raises(InvalidArgumentError, match="mode must be one of"):
        colorize(["a"], [1.0], mode="html")
    with pytest.raises(InvalidArgumentError, match="1 tokens but scores"):
        colorize(["a"], [1.0, 2.0], mode="plain")
