"""Progress output: a bar on a terminal, plain lines (no escapes, no backspaces) in a log."""

import io

from vaekit import progress


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_plain_progress_prints_a_line_per_tenth_without_escapes():
    out = io.StringIO()
    bar = progress.PlainProgress(1000, "image", stream=out)
    for done in range(0, 1001, 50):
        bar.update(done)
    lines = out.getvalue().splitlines()
    assert 10 <= len(lines) <= 12 and lines[-1].startswith("1000/1000 images, ")
    assert (
        "\x1b" not in out.getvalue() and "\b" not in out.getvalue() and "\r" not in out.getvalue()
    )


def test_fit_verbosity_and_bars_follow_the_stream(monkeypatch):
    monkeypatch.setattr("sys.stdout", io.StringIO())
    assert progress.fit_verbosity(1) == 2 and progress.fit_verbosity("auto") == 2
    assert progress.fit_verbosity(0) == 0
    assert isinstance(progress.progress_bar(5, "section"), progress.PlainProgress)
    monkeypatch.setattr("sys.stdout", _Terminal())
    assert progress.fit_verbosity(1) == 1
    assert not isinstance(progress.progress_bar(5, "section"), progress.PlainProgress)
