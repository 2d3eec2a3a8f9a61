"""The layering rules hold (import-linter, ``.importlinter``), the cycle finder behind our own
contract finds cycles, and the dispatch point names tasks that exist."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

from automations import dispatch
from powersync_site.celery import app as celery_app
from tests.architecture import import_cycles

ROOT = Path(__file__).resolve().parents[2]


def test_the_import_contracts_are_kept() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 broken" in result.stdout


def test_the_cycle_finder_finds_cycles_direct_and_through_others() -> None:
    graph = grimp.ImportGraph()
    for importer, imported in [
        ("app.a", "app.b"),
        ("app.b", "app.c"),
        ("app.c", "app.a"),  # a → b → c → a
        ("app.d", "app.e"),
        ("app.e", "app.d"),  # d ⇄ e
        ("app.f", "app.a"),  # f only imports into the first cycle
    ]:
        graph.add_import(importer=importer, imported=imported)
    modules = set(graph.modules)
    assert import_cycles(graph, modules) == [["app.a", "app.b", "app.c"], ["app.d", "app.e"]]
    assert import_cycles(graph, modules - {"app.b"}) == [["app.d", "app.e"]]


def test_every_task_the_dispatch_point_names_is_registered() -> None:
    celery_app.loader.import_default_modules()
    names = {dispatch.RECONCILE_TASK, dispatch.SYNC_TASK, dispatch.CURTAIL_TASK}
    assert names <= set(celery_app.tasks)
