"""pipeline.orchestrate on a small DVC project: DAG order, DVC's skip rules, recording in dvc.lock, failures,
and the warm executor's dvc.lock against the one `dvc repro` itself writes.

The stages are shell commands, so no kernel starts here; notebook stages in warm kernels are compared
with cold ones in tests/test_warm_kernel.py and the real pipeline in tests/test_e2e.py.
"""
from __future__ import annotations

import time
from contextlib import chdir
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# imported at collection: `import dvc` binds its log handlers to the sys.stdout of that moment, which inside a
# test is that test's capture, closed when the test ends
import dvc.repo  # noqa: F401
import pytest
import yaml

from pipeline import orchestrate
from pipeline.warm_kernel import StepResult, run_until_failure

# dvc 3.67 reads pygtrie's deprecated `_NoneStep.value` while it builds its stage graph (dvc/repo/trie.py,
# graph.py): not ours to fix, and it says nothing about In Step
pytestmark = pytest.mark.filterwarnings("ignore:_NoneStep.value will soon raise:DeprecationWarning")

# a -> b -> d <- c ; every command appends its name to runs.log (not an output: DVC ignores it)
PROJECT = {
    "stages": {
        "a": {"cmd": "head -n 1 in.txt > a.txt && echo a >> runs.log", "deps": ["in.txt"], "outs": ["a.txt"]},
        "b": {"cmd": "sleep 0.3 && cat a.txt a.txt > b.txt && echo b >> runs.log", "deps": ["a.txt"],
              "outs": ["b.txt"]},
        "c": {"cmd": "cat in2.txt > c.txt && echo c >> runs.log", "deps": ["in2.txt"], "outs": ["c.txt"]},
        "d": {"cmd": "cat b.txt c.txt > d.txt && echo d >> runs.log", "deps": ["b.txt", "c.txt"],
              "outs": ["d.txt"]},
    }
}


def make_project(root: Path, project: dict = PROJECT) -> Path:
    from dvc.repo import Repo
    root.mkdir(parents=True, exist_ok=True)
    Repo.init(str(root), no_scm=True).close()
    (root / "dvc.yaml").write_text(yaml.safe_dump(project, sort_keys=False), encoding="utf-8")
    (root / "in.txt").write_text("first\nsecond\n", encoding="utf-8")
    (root / "in2.txt").write_text("other\n", encoding="utf-8")
    return root


def runs(root: Path) -> list[str]:
    log = root / "runs.log"
    runs = log.read_text().split() if log.exists() else []
    log.unlink(missing_ok=True)
    return runs


def lock_entries(root: Path) -> dict:
    return yaml.safe_load((root / "dvc.lock").read_text(encoding="utf-8"))["stages"]


def test_runs_in_graph_order_records_each_stage_and_then_has_nothing_to_do(tmp_path):
    root = make_project(tmp_path / "p")
    results = orchestrate.orchestrate(2, root=root)
    order = runs(root)
    assert sorted(order) == ["a", "b", "c", "d"]
    assert order.index("a") < order.index("b") < order.index("d") and order.index("c") < order.index("d")
    assert [r.returncode for r in results] == [0, 0, 0, 0]
    assert (root / "d.txt").read_text() == "first\nfirst\nother\n"
    assert set(lock_entries(root)) == {"a", "b", "c", "d"}
    assert orchestrate.stale_stages(root, root / "dvc.yaml") == []
    assert orchestrate.orchestrate(2, root=root) == [] and runs(root) == []


def test_skips_like_dvc_repro_when_an_output_comes_out_the_same(tmp_path):
    root = make_project(tmp_path / "p")
    orchestrate.orchestrate(2, root=root)
    runs(root)
    (root / "in.txt").write_text("first\nchanged second line\n", encoding="utf-8")  # a.txt stays "first"
    orchestrate.orchestrate(2, root=root)
    assert runs(root) == ["a"]
    (root / "in2.txt").write_text("new\n", encoding="utf-8")
    orchestrate.orchestrate(1, root=root)
    assert runs(root) == ["c", "d"]
    assert (root / "d.txt").read_text() == "first\nfirst\nnew\n"


def test_failure_names_the_stage_keeps_finished_stages_recorded_and_starts_nothing_downstream(tmp_path, capsys):
    project = yaml.safe_load(yaml.safe_dump(PROJECT))
    project["stages"]["b"]["cmd"] = "echo b >> runs.log && echo 'bad input in a.txt' >&2 && exit 3"
    root = make_project(tmp_path / "p", project)
    with pytest.raises(SystemExit, match="stage b failed"):
        orchestrate.orchestrate(1, root=root)
    assert "FAILED: stage b" in capsys.readouterr().err
    assert runs(root) == ["a", "b"]  # one at a time: c (after b in priority) never started, d never
    assert set(lock_entries(root)) == {"a"}
    assert not (root / "d.txt").exists()


def test_warm_executor_writes_the_dvc_lock_that_dvc_repro_writes(tmp_path):
    warm = make_project(tmp_path / "warm")
    orchestrate.orchestrate(2, root=warm)
    cold = make_project(tmp_path / "cold")
    orchestrate.orchestrate(2, root=cold, executor="dvc")
    assert sorted(runs(cold)) == ["a", "b", "c", "d"]
    assert lock_entries(warm) == lock_entries(cold)


def test_stage_graph_puts_stages_with_more_downstream_first(tmp_path):
    from dvc.repo import Repo
    root = make_project(tmp_path / "p")
    with chdir(root), Repo(str(root)) as repo:
        graph = orchestrate.stage_graph(repo, root / "dvc.yaml")
    assert graph.order == ["a", "b", "c", "d"]
    assert graph.upstream == {"a": set(), "b": {"a"}, "c": set(), "d": {"b", "c"}}


def test_run_until_failure_respects_upstream_skips_and_stops_after_a_failure():
    started: list[str] = []

    def work(stage: str) -> StepResult:
        time.sleep(0.05)
        return StepResult(stage, 1 if stage == "bad" else 0, 0.05, "")

    with ThreadPoolExecutor(max_workers=2) as pool:
        def submit(stage):
            started.append(stage)
            return None if stage == "fresh" else pool.submit(work, stage)

        results = run_until_failure(["x", "fresh", "y", "z"], submit, 2,
                                    upstream={"y": {"x", "fresh"}, "z": {"y"}, "x": {"not in the run"}})
        assert started == ["x", "fresh", "y", "z"] and [r.stage for r in results] == ["x", "y", "z"]
        started.clear()
        results = run_until_failure(["bad", "after_bad", "other"], submit, 1, upstream={"after_bad": {"bad"}})
        assert started == ["bad"] and [r.returncode for r in results] == [1]
        kept = run_until_failure(["x"], submit, 1, finish=lambda r: StepResult(r.stage, 1, r.seconds, "no record"))
        assert kept[0].returncode == 1 and kept[0].output == "no record"
