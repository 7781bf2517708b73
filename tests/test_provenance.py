"""Provenance footers, DVC-compatible hashing and `python -m pipeline.provenance verify`."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
from contextlib import redirect_stdout
from pathlib import Path

import pytest
import yaml

from pipeline import paths, provenance

# The tests share one small repo: keep them on one xdist worker (make test uses --dist loadgroup).
pytestmark = pytest.mark.xdist_group("provenance_mini_repo")

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.org", "DVC_NO_ANALYTICS": "1"}


def _run(args: list[str], cwd: Path) -> str:
    env = {**os.environ, **GIT_ENV}
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _dvc(args: list[str], cwd: Path) -> str:
    return _run([sys.executable, "-m", "dvc", *args], cwd)


MAKE_PAGE = """
from pathlib import Path
from pipeline import provenance
root = Path.cwd()
(root / "reports").mkdir(exist_ok=True)
body = "<html><body><h1>Fake report</h1>" + provenance.footer_html("build", root=root) + "</body></html>"
(root / "reports" / "page.html").write_text(body, encoding="utf-8")
"""


@pytest.fixture(scope="module")
def mini_repo(tmp_path_factory) -> Path:
    """A git + DVC repo with one stage (a file dep, a folder dep with ignored files, params with a seed)
    that writes a fake report carrying a footer; `dvc repro` has run and everything is committed."""
    root = tmp_path_factory.mktemp("mini")
    (root / "data" / "folder" / "sub").mkdir(parents=True)
    (root / "data" / "folder" / "__pycache__").mkdir()
    (root / "data" / "raw.csv").write_text("area,value\nkent,1\n", encoding="utf-8")
    (root / "data" / "folder" / "a.txt").write_text("alpha\r\nwindows line ends\r\n", encoding="utf-8")
    (root / "data" / "folder" / "sub" / "b.bin").write_bytes(bytes(range(256)))
    (root / "data" / "folder" / "__pycache__" / "x.pyc").write_bytes(b"ignored")
    (root / "data" / "folder" / "scratch.tmp").write_text("ignored", encoding="utf-8")
    (root / "make_page.py").write_text(MAKE_PAGE, encoding="utf-8")
    (root / "params.yaml").write_text("build:\n  seed: 7\n  alpha: 0.05\nother:\n  x: 1\n", encoding="utf-8")
    (root / "dvc.yaml").write_text(textwrap.dedent(f"""\
        stages:
          build:
            cmd: {sys.executable} make_page.py
            deps:
              - make_page.py
              - data/raw.csv
              - data/folder
            params:
              - build
            outs:
              - reports/page.html:
                  cache: false
        """), encoding="utf-8")
    _run(["git", "init", "-q"], root)
    _dvc(["init", "-q"], root)
    _dvc(["config", "core.analytics", "false"], root)
    (root / ".dvcignore").write_text("__pycache__/\n*.tmp\n", encoding="utf-8")
    _run(["git", "add", "-A"], root)
    _run(["git", "commit", "-qm", "init"], root)
    _dvc(["repro", "-q"], root)
    _run(["git", "add", "-A"], root)
    _run(["git", "commit", "-qm", "ran"], root)
    return root


def _verify(root: Path) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = provenance.main(["verify", "--root", str(root)])
    return code, out.getvalue()


def test_hashes_taken_at_run_time_equal_what_dvc_locks(mini_repo):
    lock = yaml.safe_load((mini_repo / "dvc.lock").read_text())["stages"]["build"]
    locked = {dep["path"]: dep["md5"] for dep in lock["deps"]}
    page = (mini_repo / "reports" / "page.html").read_text(encoding="utf-8")
    [record] = provenance.records_in_html(page)
    recorded = {dep["path"]: dep["md5"] for dep in record["deps"]}
    assert recorded == locked
    assert locked["data/folder"].endswith(".dir")  # the folder hash, .dvcignore applied, matches DVC's
    assert record["params"] == {"build": {"seed": 7, "alpha": 0.05}}
    assert record["seeds"] == {"build.seed": 7}
    assert "git" not in record  # a cached page must not depend on the commit: code is identified by its hashes


def test_footer_is_readable_and_carries_inert_json(mini_repo):
    page = (mini_repo / "reports" / "page.html").read_text(encoding="utf-8")
    assert '<footer class="instep-footer"' in page
    assert '<script type="application/json" id="instep-provenance">' in page
    assert "build.seed = 7" in page and "make verify" in page
    assert " src=" not in page.split('<footer class="instep-footer"', 1)[1]


def test_footer_is_deterministic(mini_repo):
    first = provenance.footer_html("build", root=mini_repo)
    assert first == provenance.footer_html("build", root=mini_repo)


def test_verify_matches_after_a_run(mini_repo):
    code, out = _verify(mini_repo)
    assert code == 0, out
    assert "reports/page.html: matches" in out and "overall: matches" in out


def test_verify_lists_a_changed_raw_file(mini_repo):
    raw = mini_repo / "data" / "raw.csv"
    original = raw.read_bytes()
    recorded = provenance.file_md5(raw)
    try:
        raw.write_bytes(original + b"kent,2\n")
        code, out = _verify(mini_repo)
        assert code == 1
        assert "overall: DIFFERS" in out
        assert f"file data/raw.csv: recorded {recorded}, current {provenance.file_md5(raw)}" in out
    finally:
        raw.write_bytes(original)
    assert _verify(mini_repo)[0] == 0


def test_verify_lists_a_file_changed_inside_a_dependency_folder(mini_repo):
    inner = mini_repo / "data" / "folder" / "sub" / "b.bin"
    original = inner.read_bytes()
    try:
        inner.write_bytes(original[::-1])
        code, out = _verify(mini_repo)
        assert code == 1 and "file data/folder:" in out
    finally:
        inner.write_bytes(original)


def test_verify_ignores_what_dvcignore_ignores(mini_repo):
    extra = mini_repo / "data" / "folder" / "__pycache__" / "y.pyc"
    try:
        extra.write_bytes(b"new bytecode")
        assert _verify(mini_repo)[0] == 0
    finally:
        extra.unlink()


def test_verify_lists_a_changed_param(mini_repo):
    params = mini_repo / "params.yaml"
    original = params.read_text(encoding="utf-8")
    try:
        params.write_text(original.replace("seed: 7", "seed: 8"), encoding="utf-8")
        code, out = _verify(mini_repo)
        assert code == 1
        assert 'param build: recorded {"alpha": 0.05, "seed": 7}, current {"alpha": 0.05, "seed": 8}' in out
        # a param the stage does not declare changes nothing
        params.write_text(original.replace("x: 1", "x: 2"), encoding="utf-8")
        assert _verify(mini_repo)[0] == 0
    finally:
        params.write_text(original, encoding="utf-8")


def test_verify_flags_a_page_without_footer(mini_repo):
    bare = mini_repo / "reports" / "bare.html"
    try:
        bare.write_text("<html><body>no footer</body></html>", encoding="utf-8")
        code, out = _verify(mini_repo)
        assert code == 1 and "reports/bare.html: DIFFERS" in out and "provenance block" in out
    finally:
        bare.unlink()


def test_verify_checks_the_stage_provenance_records(mini_repo):
    block = provenance.provenance_record("build", root=mini_repo)
    block["deps"] = {dep["path"]: dep["md5"] for dep in block["deps"]}
    record = provenance.record_file("build", root=mini_repo)
    assert record == mini_repo / "reports" / "build_provenance.json"
    try:
        record.write_text(json.dumps(block), encoding="utf-8")
        assert _verify(mini_repo)[0] == 0
        block["deps"]["data/raw.csv"] = "0" * 32
        record.write_text(json.dumps(block), encoding="utf-8")
        code, out = _verify(mini_repo)
        assert code == 1 and "reports/build_provenance.json: DIFFERS" in out and "data/raw.csv" in out
        record.write_text("{not json", encoding="utf-8")
        code, out = _verify(mini_repo)
        assert code == 1 and "provenance record" in out
    finally:
        record.unlink()


def test_footer_is_the_same_at_another_commit(mini_repo):
    """Pages are cached outputs: the same inputs give the same footer whatever the commit or working-copy state."""
    before = provenance.footer_html("build", root=mini_repo)
    _run(["git", "commit", "-q", "--allow-empty", "-m", "another commit"], mini_repo)
    lock = mini_repo / "dvc.lock"
    original = lock.read_text(encoding="utf-8")
    try:
        lock.write_text(original + "\n", encoding="utf-8")  # an uncommitted change to a tracked file
        assert provenance.footer_html("build", root=mini_repo) == before
    finally:
        lock.write_text(original, encoding="utf-8")


def test_a_page_of_a_multi_page_stage_records_only_its_own_params():
    """profile@kent: the profiles stage's deps, with areas.kent instead of every area's entry; clean_survey: the
    clean stage's deps with only clean_survey."""
    record = provenance.provenance_record("profile@kent")
    assert record["stage_defined"] and "areas.kent" in record["params"] and "areas" not in record["params"]
    assert any(dep["path"] == "notebooks/05_area_profile.ipynb" for dep in record["deps"])
    clean = provenance.provenance_record("clean_survey")
    assert clean["stage_defined"] and list(clean["params"]) == ["clean_survey"]


def test_unknown_stage_is_said_on_the_page(mini_repo):
    html = provenance.footer_html("no_such_stage", root=mini_repo)
    assert "is not defined in dvc.yaml" in html


def test_json_record_keys_hashes_by_path():
    block = provenance.json_record("estimate")
    assert set(block) >= {"stage", "deps", "params", "seeds", "versions"}
    assert "git" not in block  # the record must not change with the commit alone
    assert isinstance(block["deps"], dict) and "pipeline/provenance.py" in block["deps"]
    assert "estimate.seed" in block["seeds"]
    json.dumps(block, allow_nan=False)  # storable with pipeline.io.write_json


def test_the_estimate_stage_writes_its_record_beside_the_metrics_not_inside():
    """Issue 18: metrics.json holds statistics only, so another format of the same data gives the same bytes."""
    dvc_yaml = yaml.safe_load((paths.ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]["estimate"]
    declared = {next(iter(out)) if isinstance(out, dict) else out for out in dvc_yaml["outs"]}
    assert "reports/estimate_provenance.json" in declared
    assert any("reports/metrics.json" in (m if isinstance(m, dict) else {m: None}) for m in dvc_yaml["metrics"])
    notebook = json.loads((paths.ROOT / "notebooks" / "03_estimate.ipynb").read_text(encoding="utf-8"))
    code = "".join("".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code")
    assert 'provenance.write_record("estimate")' in code and "provenance_block" not in code


def test_seeds_are_every_param_named_seed():
    found = provenance.seeds_in({"a": {"seed": 1, "inner": {"bootstrap_seed": 2}, "n": 3}, "seedless": 4})
    assert found == {"a.inner.bootstrap_seed": 2, "a.seed": 1, "seedless": 4}


def test_foreach_stages_resolve_like_dvc_itself():
    """Our resolution of dvc.yaml (foreach, ${key}, params) equals DVC's own for every stage."""
    from dvc.dependency.param import ParamsDependency
    from dvc.repo import Repo

    ours = provenance.stages(sub_pipelines=False)
    with Repo(str(paths.ROOT)) as repo:
        theirs = {stage.addressing: stage for stage in repo.index.stages}
    assert set(ours) == set(theirs)
    assert "validation/study.yaml:validate" in provenance.stages()  # not a DVC stage, but its pages have footers
    for name, stage in theirs.items():
        assert sorted(ours[name]["deps"]) == sorted(
            dep.def_path for dep in stage.deps if not isinstance(dep, ParamsDependency)), name
        assert sorted(ours[name]["outs"]) == sorted(out.def_path for out in stage.outs), name
    record = provenance.provenance_record("profile@kent")
    assert set(record["params"]) == {"publish", "profile", "areas.kent"}


def test_interpolation_of_list_foreach_and_items():
    dvc_yaml = {"stages": {"fit": {"foreach": [{"name": "a", "k": 1}, {"name": "b", "k": 2}],
                                   "do": {"cmd": "fit ${item.name} --k ${item.k}", "deps": ["data/${item.name}"]}},
                           "one": {"foreach": ["x", "y"], "do": {"cmd": "run ${item}", "outs": ["out/${item}"]}}}}
    resolved = provenance.resolve_stages(dvc_yaml, {})
    assert resolved["fit@0"]["cmd"] == "fit a --k 1" and resolved["fit@1"]["deps"] == ["data/b"]
    assert resolved["one@y"]["outs"] == ["out/y"]
    with pytest.raises(KeyError, match="not defined"):
        provenance.resolve_stages({"stages": {"s": {"cmd": "${missing.key}"}}}, {})


def _report_pages() -> list[Path]:
    return provenance.report_pages()


def test_every_report_page_carries_the_footer():
    pages = _report_pages()
    if not pages:
        pytest.skip("no HTML reports in reports/ or reports/areas/ yet: run the pipeline (make repro) first")
    missing = [paths.rel(p) for p in pages if not provenance.records_in_html(p.read_text(encoding="utf-8"))]
    assert not missing, f"report pages without the provenance footer (call pipeline.report.footer): {missing}"
    for page in pages:
        for record in provenance.records_in_html(page.read_text(encoding="utf-8")):
            assert record["stage_defined"], f"{paths.rel(page)} names stage {record['stage']!r} not in dvc.yaml"


def test_records_are_found_whatever_the_attribute_order():
    """nbconvert rewrites <script type=... id=...> as <script id=... type=...>."""
    record = {"stage": "s", "deps": [], "params": {}, "note": "a </script> inside"}
    block = provenance._record_json(record)
    for tag in (f'<script type="application/json" id="{provenance.SCRIPT_ID}">',
                f'<script id="{provenance.SCRIPT_ID}" type="application/json">'):
        assert provenance.records_in_html(f"<p>x</p>{tag}{block}</script><p>y</p>") == [record]
