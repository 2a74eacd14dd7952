"""``gitprov report`` in a real browser: headless Chromium (Debian's ``chromium``, which
``make system-deps`` installs) driven by Playwright on that executable, never a browser
Playwright downloads.

One history serves the module: Kedro runs (clean, dirty, failed), ``gitprov.record()`` runs
(one with a hostile parameter, one interrupted) and ``gitprov run`` commands (success,
failed, interrupted); one browser too. Every page counts what it asked for beyond the
report's own file (routes abort them) and every console message of level error: each test
ends by checking both are empty.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import gitprov
from gitprov import SessionLog
from gitprov.index.api import IndexEntry
from gitprov.report import payload, render

from conftest import cli, git, make_repo
from kedro_project import kedro_run, make_kedro_project

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')"
)
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip("Debian's chromium is not installed (make system-deps)", allow_module_level=True)

#: Chromium as the tests run it: headless, no sandbox (containers run as root), and none
#: of its own background traffic (updates, sync), so any request seen is the page's.
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

HOSTILE = "</script><img src=x onerror=alert(1)>"


@dataclass
class History:
    repo: Path
    report: Path
    ids: list[str]
    status: dict[str, str]
    kedro_clean: str
    kedro_dirty: str


def new_ids(repo: Path, before: list[str]) -> list[str]:
    return [i for i in SessionLog(repo).ids() if i not in before]


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory, isolated_env: None) -> History:
    repo = tmp_path_factory.mktemp("report") / "repo"
    make_kedro_project(repo)
    make_repo(repo, {"README.md": "demo\n"})
    assert kedro_run(repo).returncode == 0
    (kedro_clean,) = SessionLog(repo).ids()
    (repo / "conf/base/parameters.yml").write_text("n: 5\nfail: false\n")
    assert kedro_run(repo).returncode == 0
    (kedro_dirty,) = new_ids(repo, [kedro_clean])
    git(repo, "checkout", "-q", "--", "conf/base/parameters.yml")
    assert kedro_run(repo, "--params", "fail=true").returncode != 0
    with gitprov.record(repo, params={"lr": 0.1, "note": HOSTILE}, metrics={"auc": 0.7}):
        pass
    try:
        with gitprov.record(repo, params={"lr": 0.2}, metrics={"auc": 0.9}):
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        pass
    for argv in (
        ["--input", "README.md", "--", "true"],
        ["--", "false"],
        ["--", "sh", "-c", "kill -TERM $$"],
    ):
        cli("-C", str(repo), "run", *argv, process=True)
    report = repo.parent / "report.html"
    result = cli("-C", str(repo), "report", "-o", str(report), "--columns", "params.lr")
    assert result.returncode == 0, result.stderr
    records = dict(SessionLog(repo).items())
    status = {i: r["run"]["status"] for i, r in records.items()}
    assert sorted(status.values()) == sorted(
        ["success"] * 4 + ["failed"] * 2 + ["interrupted"] * 2
    ), status
    return History(repo, report, sorted(records), status, kedro_clean, kedro_dirty)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


@dataclass
class Opened:
    page: Any
    outside: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def rows(self) -> list[str]:
        return [
            str(r)
            for r in self.page.locator("#runs tbody tr").evaluate_all(
                "rows => rows.map(r => r.dataset.id)"
            )
        ]

    def check_quiet(self) -> None:
        assert self.outside == [], f"requests left the page: {self.outside}"
        assert self.errors == [], f"console errors: {self.errors}"
        assert self.dialogs == [], f"dialogs opened: {self.dialogs}"


def open_page(browser: Any, path: Path) -> Iterator[Opened]:
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    page = context.new_page()
    opened = Opened(page)
    own = path.resolve().as_uri()

    def route(request_route: Any) -> None:
        if request_route.request.url == own:
            request_route.continue_()
        else:
            opened.outside.append(request_route.request.url)
            request_route.abort()

    context.route("**/*", route)
    page.on("request", lambda r: r.url != own and opened.outside.append(r.url))
    page.on("websocket", lambda ws: opened.outside.append(ws.url))
    page.on("console", lambda m: m.type == "error" and opened.errors.append(m.text))
    page.on("pageerror", lambda exc: opened.errors.append(str(exc)))
    page.on("dialog", lambda d: (opened.dialogs.append(d.message), d.dismiss()))
    page.goto(own, wait_until="load")
    page.wait_for_selector("body[data-ready=yes]")
    yield opened
    context.close()


@pytest.fixture
def opened(browser: Any, history: History) -> Iterator[Opened]:
    yield from open_page(browser, history.report)


def test_the_watch_on_requests_and_errors_sees_them(browser: Any, tmp_path: Path) -> None:
    """The check every test ends with can fail: a page that fetches and throws is caught."""
    leaky = tmp_path / "leaky.html"
    leaky.write_text(
        '<img src="https://example.invalid/pixel.png"><script>throw new Error("boom")</script>'
        '<body data-ready="yes">'
    )
    for opened in open_page(browser, leaky):
        assert any("example.invalid" in url for url in opened.outside)
        assert any("boom" in error for error in opened.errors)


def test_the_table_has_one_row_per_run_and_nothing_leaves_the_page(
    opened: Opened, history: History
) -> None:
    assert sorted(opened.rows()) == history.ids
    assert opened.rows() == sorted(history.ids, reverse=True)  # newest first
    summary = opened.page.locator("#summary-cards").inner_text()
    assert "8\nruns" in summary and "4\nsuccess" in summary and "2\ninterrupted" in summary
    assert opened.page.locator("#runs thead th").last.inner_text() == "params.lr"
    lr = opened.page.locator("#runs tbody td:last-child").all_inner_texts()
    assert sorted(lr) == ["", "", "", "", "", "", "0.1", "0.2"]
    opened.check_quiet()


def test_the_filter_narrows_the_table(opened: Opened, history: History) -> None:
    page = opened.page
    page.select_option("#status-filter", "failed")
    failed = sorted(i for i, s in history.status.items() if s == "failed")
    sync_api.expect(page.locator("#runs tbody tr")).to_have_count(2)
    assert sorted(opened.rows()) == failed
    page.select_option("#status-filter", "")
    page.fill("#filter", "params.lr>0.1")
    sync_api.expect(page.locator("#runs tbody tr")).to_have_count(1)
    (row,) = opened.rows()
    assert history.status[row] == "interrupted"
    page.fill("#filter", "sh -c")  # free text: the WHAT column of the killed command
    sync_api.expect(page.locator("#runs tbody tr")).to_have_count(1)
    assert "(filtered from 8)" in page.locator("#pager-text").inner_text()
    opened.check_quiet()


def test_a_runs_detail_shows_its_diff(opened: Opened, history: History) -> None:
    page = opened.page
    page.click(f"#runs tr[data-id='{history.kedro_dirty}'] button.link")
    diff = page.locator("#detail-diff pre.diff")
    assert "-n: 4" in diff.inner_text() and "+n: 5" in diff.inner_text()
    assert page.locator("#detail-diff .add").count() >= 1
    assert "n" in page.locator("#detail-params").inner_text()
    page.click(f"#runs tr[data-id='{history.kedro_clean}'] button.link")
    assert page.locator("#detail-diff").count() == 0
    assert "clean tree" in page.locator("#detail").inner_text()
    opened.check_quiet()


def test_a_runs_inputs_show_their_digests(opened: Opened, history: History) -> None:
    page = opened.page
    page.fill("#filter", "what=true")
    sync_api.expect(page.locator("#runs tbody tr")).to_have_count(1)
    page.click("#runs tbody tr button.link")
    cells = page.locator("#detail-io tbody td").all_inner_texts()
    digest = "sha256:" + hashlib.sha256(b"demo\n").hexdigest()
    assert cells == ["input", "README.md", "file", "README.md", "null", digest, "5"]
    opened.check_quiet()


def test_a_comparison_shows_the_differing_parameter(opened: Opened, history: History) -> None:
    page = opened.page
    for session_id in (history.kedro_clean, history.kedro_dirty):
        page.check(f"#runs tr[data-id='{session_id}'] input.run-select")
    page.click("#compare-button")
    rows = page.locator("#compare-table tbody tr").evaluate_all(
        "rows => rows.map(r => [...r.cells].map(c => c.textContent))"
    )
    assert ["run.params.n", "4", "5"] in rows
    assert not [r for r in rows if r[0].startswith("provenance.")]  # as compare leaves out
    opened.check_quiet()


def dots(page: Any, chart: str) -> int:
    return int(page.get_attribute(f"{chart} svg", "data-points"))


def test_a_plot_draws_a_numeric_metric_and_its_dots_open_their_run(
    opened: Opened, history: History
) -> None:
    page = opened.page
    page.select_option("#plot-key", "metrics.auc")
    assert dots(page, "#plot") == 2
    assert page.locator("#plot path.status-success").count() == 1  # auc 0.7, the first
    assert page.locator("#plot path.status-interrupted").count() == 1  # auc 0.9, then
    page.locator("#plot svg").scroll_into_view_if_needed()
    box = page.locator("#plot svg").bounding_box()
    scale = box["width"] / 1000  # the charts' viewBox is 1000 wide
    page.mouse.click(box["x"] + (1000 - 20 - 8) * scale, box["y"] + (10 + 8) * scale)
    interrupted = [i for i, s in history.status.items() if s == "interrupted"]
    shown = page.locator("#detail h2").inner_text()
    assert any(i in shown for i in interrupted) and "interrupted" in shown
    page.select_option("#plot-key", "run.params.n")
    assert dots(page, "#plot") == 3
    assert dots(page, "#timeline") == 8
    opened.check_quiet()


def test_a_hostile_value_is_shown_as_text(opened: Opened, history: History) -> None:
    page = opened.page
    page.fill("#filter", "params.note~onerror")
    sync_api.expect(page.locator("#runs tbody tr")).to_have_count(1)
    page.click("#runs tbody tr button.link")
    assert HOSTILE in page.locator("#detail-params").inner_text()
    assert page.locator("img").count() == 0
    opened.check_quiet()


def made_up(path: Path, records: list[dict[str, Any]], **fields: Any) -> Path:
    """A report of ``records`` (run ``n`` a minute after run ``n - 1``) written without a
    repository: each run's row has ``fields`` over a clean success on ``main``."""
    runs = []
    for n, record in enumerate(records):
        row: dict[str, Any] = dict(
            session_id=f"run-{n:04d}", started=1_700_000_000 + 60 * n, started_at=None,
            duration=1.0, status="success", commit=None, branch="main", dirty=False,
            snapshot=None, what="x", user=None, source="refs/provenance/sessions", blob="",
        )  # fmt: skip
        runs.append(payload.run_entry(IndexEntry(**{**row, **fields}), record))
    whole = {
        "repository": "made-up",
        "ref": "refs/provenance/sessions",
        "generated": "now",
        "columns": [],
        "not_compared": ["provenance"],
        "summary": payload.summarize(runs, {}),
        **payload.encode(runs),
        "broken": {},
        "skipped": [],
    }
    path.write_text(render(whole), encoding="utf-8")
    return path


def test_many_runs_are_paged_not_dropped(browser: Any, tmp_path: Path) -> None:
    many = made_up(tmp_path / "many.html", [{"metrics": {"step": n}} for n in range(450)])
    for opened in open_page(browser, many):
        seen: list[str] = []
        for _ in range(3):
            seen += opened.rows()
            if opened.page.locator("#next-page").is_enabled():
                opened.page.click("#next-page")
        assert len(seen) == 450 and len(set(seen)) == 450
        assert "page 3 of 3" in opened.page.locator("#pager-text").inner_text()
        assert dots(opened.page, "#timeline") == 450
        opened.check_quiet()


def test_a_dirty_run_without_a_snapshot_says_why(browser: Any, tmp_path: Path) -> None:
    record = {"git": {"dirty": True, "snapshot_error": "the tree could not be read"}}
    page_file = made_up(tmp_path / "dirty.html", [record], dirty=True)
    for opened in open_page(browser, page_file):
        opened.page.click("#runs tbody tr button.link")
        said = opened.page.locator("#detail").inner_text()
        assert "dirty but no snapshot holds its change: the tree could not be read" in said
        opened.check_quiet()


def test_a_screenshot_for_the_reviewer(
    opened: Opened, history: History, tmp_path_factory: pytest.TempPathFactory, capsys: Any
) -> None:
    page = opened.page
    page.check(f"#runs tr[data-id='{history.kedro_clean}'] input.run-select")
    page.check(f"#runs tr[data-id='{history.kedro_dirty}'] input.run-select")
    page.click("#compare-button")
    page.click(f"#runs tr[data-id='{history.kedro_dirty}'] button.link")
    shot = tmp_path_factory.mktemp("screenshots") / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    with capsys.disabled():
        print(f"\nreport screenshot: {shot}")
    opened.check_quiet()
