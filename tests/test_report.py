"""``bandctl report``: one self-contained page whose plots are real PNGs, names escaped, errors one line."""

from __future__ import annotations

import base64
import contextlib
import io
import random
import re
from decimal import Decimal
from pathlib import Path

from test_journal_support import COND, NO, YES

from controller.cli.pnl import main as cli
from controller.journal import Role, Source, TradeRecord, TradeStatus, open_journal

START = 1_764_600_000.0
OTHER_COND = "0x" + "cd" * 32


def demo_journal(path: Path, *, name: str = "btc", seconds: int = 1800, seed: int = 7) -> None:
    """A quoting session: a random-walk mid sampled each second, fills on both sides, some adverse."""
    rng = random.Random(seed)
    journal = open_journal(str(path), str(path.parent), clock=lambda: START + seconds)
    journal.record_market(name, COND, YES, NO)
    journal.record_market("rain", OTHER_COND, "2001", "2002")
    for i in range(3):
        journal.record_action(
            name, COND, "place", f"0xp{i}", YES, "BUY", Decimal("0.49"), Decimal(10), "BelowMinAmount", "", at=START
        )
    journal.record_action(name, COND, "reject", "", YES, "BUY", None, None, "InsufficientBalance", "", at=START)
    mid = Decimal("0.50")
    trades = 0
    for second in range(seconds):
        at = START + second
        mid = min(Decimal("0.95"), max(Decimal("0.05"), mid + Decimal(rng.choice((-1, 0, 0, 0, 1))) / 100))
        journal.record_mid(COND, YES, mid, at=at)
        if rng.random() < 0.03:
            buy = rng.random() < 0.5
            on_no = rng.random() < 0.3
            price = mid - Decimal("0.01") if buy else mid + Decimal("0.01")
            token, side = (YES, "BUY" if buy else "SELL") if not on_no else (NO, "SELL" if buy else "BUY")
            trades += 1
            journal.record_trade(
                TradeRecord(
                    trade_id=f"t-{trades}",
                    order_id=f"0xo{trades}",
                    role=Role.MAKER,
                    condition_id=COND,
                    token_id=token,
                    outcome="Yes" if token == YES else "No",
                    side=side,  # type: ignore[arg-type]
                    price=price if token == YES else 1 - price,
                    size=Decimal(rng.choice((5, 10, 20))),
                    fee=Decimal(0),
                    status=TradeStatus.FAILED if trades % 17 == 0 else TradeStatus.CONFIRMED,
                    match_time=at + 0.3,
                    event_time=None,
                    seen_at=at + 0.3,
                    source=Source.WEBSOCKET,
                )
            )
    assert journal.close(30)


def _run(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli(list(argv))
    return code, out.getvalue() + err.getvalue()


def test_the_page_is_self_contained_with_a_plot_of_each_kind(tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite"
    demo_journal(journal, name="<b>btc</b> & co")
    page = tmp_path / "report.html"
    code, said = _run("report", "--journal", str(journal), "--out", str(page))
    assert code == 0, said
    text = page.read_text()
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", text), "nothing is fetched from elsewhere"
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert len(images) == 3  # btc: position and PnL, fills on the path, markouts
    assert "No fills or mids journaled" in text  # rain: said in words, no empty plots
    for image in images:
        assert base64.b64decode(image).startswith(b"\x89PNG\r\n\x1a\n")
    assert "&lt;b&gt;btc&lt;/b&gt; &amp; co" in text and "<b>btc</b>" not in text
    assert "total" in text
    assert re.search(r"<td>place</td><td>BelowMinAmount</td><td>3</td>", text)
    assert re.search(r"<td>reject</td><td>InsufficientBalance</td><td>1</td>", text)


def test_report_of_a_missing_journal_fails_in_one_line(tmp_path: Path) -> None:
    code, said = _run("report", "--journal", str(tmp_path / "none.sqlite"), "--out", str(tmp_path / "r.html"))
    assert code == 2 and said.strip().count("\n") == 0 and "no journal at" in said
    assert not (tmp_path / "r.html").exists()


def test_report_into_a_missing_directory_fails_in_one_line(tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite"
    demo_journal(journal, seconds=60)
    code, said = _run("report", "--journal", str(journal), "--out", str(tmp_path / "no" / "such" / "r.html"))
    assert code == 2 and said.strip().count("\n") == 0 and "cannot write" in said
