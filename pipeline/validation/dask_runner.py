"""Run the simulation study on Dask, one cached parquet file per design cell.

Replicates are independent tasks, batched (``batch_size`` replicates per task) to amortise Dask's
per-task overhead. Each replicate is seeded from its own SeedSequence (see ``design.replicate_seed``),
so the numbers do not depend on the number of workers, the batch size or the scheduling order.
A cell whose file (keyed by the cell's parameters, the replicate count and a hash of code version
and settings) already exists is read, not rerun.

The cluster: a ``dask.distributed.LocalCluster`` (one single-threaded worker process per core, its dashboard
on a free port: ``dashboard_address=None`` still asks for 8787, and two studies at once then warn) unless a scheduler address is given (argument, else env ``DASK_SCHEDULER_ADDRESS``).
A scheduler named by address is reached safely (:func:`connect_scheduler`): ``tls://`` with certificates
(params ``validate.tls_ca_file``, ``tls_cert``, ``tls_key``, else env ``INSTEP_DASK_TLS_CA_FILE`` ...,
else dask's own ``distributed.comm.tls`` config) through ``distributed.security.Security``; a plain
``tcp://`` address that is not this machine (loopback) is refused unless ``validate.allow_insecure_tcp``
(or env ``INSTEP_ALLOW_INSECURE_TCP=1``) says the network is trusted: whoever reaches a scheduler can run
code on its workers.
"""
from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from .. import io
from . import design as design_mod
from .performance import NUMERIC_RESULT_COLUMNS, RESULT_COLUMNS, STRING_RESULT_COLUMNS

SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"
TLS_ENV = {"tls_ca_file": "INSTEP_DASK_TLS_CA_FILE", "tls_cert": "INSTEP_DASK_TLS_CERT",
           "tls_key": "INSTEP_DASK_TLS_KEY"}
INSECURE_ENV = "INSTEP_ALLOW_INSECURE_TCP"
CONNECTION_KEYS = ("tls_ca_file", "tls_cert", "tls_key", "allow_insecure_tcp")


def scheduler_address(configured: str | None = None) -> str | None:
    """The scheduler to use: the configured address, else env DASK_SCHEDULER_ADDRESS, else None (local)."""
    if configured not in (None, "", "null"):
        return str(configured)
    env = os.environ.get(SCHEDULER_ENV, "").strip()
    return env or None


def _truthy(value) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "y", "on")


def connection_settings(connection: dict | None = None) -> dict:
    """TLS files and the insecure-TCP switch: given values, else the environment (None where unset)."""
    given = dict(connection or {})
    out = {}
    for key, env in TLS_ENV.items():
        value = given.get(key)
        out[key] = str(value) if value not in (None, "", "null") else (os.environ.get(env) or None)
    allow = given.get("allow_insecure_tcp")
    out["allow_insecure_tcp"] = bool(allow) if allow is not None else _truthy(os.environ.get(INSECURE_ENV, ""))
    return out


def _is_loopback(host: str) -> bool:
    import ipaddress
    host = host.strip("[]")
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def scheduler_security(address: str, connection: dict | None = None):
    """The ``distributed.security.Security`` for ``address``, or None for plain TCP to this machine.

    Raises ``InputError`` for plain TCP to another machine (unless allowed) or TLS without certificates."""
    from distributed.comm.addressing import parse_address, parse_host_port
    from distributed.security import Security

    from ..errors import InputError
    settings = connection_settings(connection)
    scheme, location = parse_address(address)
    if scheme == "inproc":
        return None
    if scheme == "tcp":
        host, _ = parse_host_port(location)
        if _is_loopback(host) or settings["allow_insecure_tcp"]:
            return None
        raise InputError("params.yaml", f"the Dask scheduler address '{address}' is plain TCP to another machine: "
                         "anyone who can reach that scheduler can run code on its workers, and the data travel "
                         "unencrypted",
                         "give a tls:// address with certificates (validate.tls_ca_file, tls_cert, tls_key, or the "
                         f"{', '.join(TLS_ENV.values())} environment variables), or set "
                         "validate.allow_insecure_tcp: true if the network is private and trusted",
                         column="validate.scheduler_address")
    if scheme != "tls":
        raise InputError("params.yaml", f"the Dask scheduler address '{address}' uses '{scheme}://'",
                         "use tls://host:port (or tcp://127.0.0.1:port on this machine)",
                         column="validate.scheduler_address")
    files = {k: settings[k] for k in TLS_ENV}
    if not all(files.values()):
        security = Security()  # dask's own config (distributed.comm.tls.*) may hold them
        if security.tls_ca_file and security.tls_client_cert:
            return security
        missing = [k for k, v in files.items() if not v]
        raise InputError("params.yaml", f"the Dask scheduler address '{address}' is TLS but {missing} not given",
                         f"set validate.{', validate.'.join(missing)} (PEM files; or the environment variables "
                         f"{', '.join(TLS_ENV[m] for m in missing)})", column="validate.tls_ca_file")
    for key, path in files.items():
        if not Path(path).is_file():
            raise InputError(path, f"the TLS file given as {key} does not exist", f"point validate.{key} at a "
                             "PEM file readable here", column=f"validate.{key}")
    return Security(tls_ca_file=files["tls_ca_file"], tls_client_cert=files["tls_cert"],
                    tls_client_key=files["tls_key"], require_encryption=True)


def connect_scheduler(address: str, connection: dict | None = None, timeout: str = "30s"):
    """A Client to the scheduler at ``address``, over TLS unless it is plain TCP on this machine."""
    from dask.distributed import Client
    security = scheduler_security(address, connection)
    return Client(address, timeout=timeout, security=security) if security is not None else \
        Client(address, timeout=timeout)


@contextlib.contextmanager
def dask_client(address: str | None = None, n_workers: int | None = None, *,
                connection: dict | None = None) -> Iterator:
    """A dask.distributed Client: to ``address`` (or env) if set, safely (see :func:`connect_scheduler`),
    else to a fresh LocalCluster. ``connection``: ``tls_ca_file, tls_cert, tls_key, allow_insecure_tcp``."""
    import dask
    from dask.distributed import Client, LocalCluster

    address = scheduler_address(address)
    if address:
        client = connect_scheduler(address, connection)
        try:
            yield client
        finally:
            client.close()
        return
    n_workers = int(n_workers or os.cpu_count() or 1)
    # Each worker process runs numpy/BLAS single-threaded, so n workers use n cores, not n^2 threads.
    env = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
    with dask.config.set(LOCAL_WORKER_CONFIG), _without_dask_malloc_trim(), \
            LocalCluster(n_workers=n_workers, processes=True, threads_per_worker=1, dashboard_address=":0",
                         env=env, silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        yield client


#: Worker settings of the LocalCluster (measured with benchmarks/bench_validation.py, see README):
#: - the nanny's default MALLOC_TRIM_THRESHOLD_=65536 makes glibc hand memory back to the OS after
#:   every large free; a replicate allocates and frees many pandas/numpy buffers, so it spent 3x the
#:   system time and 3.5x the page faults of a plain process (about +15 % CPU). Unset: glibc's default.
#: - the statistical profiler samples the task thread every 10 ms for the dashboard's profile page: off.
#: Neither changes a number. An external cluster keeps its own settings (see the README).
LOCAL_WORKER_CONFIG = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
                       "distributed.worker.profile.enabled": False}
_DASK_MALLOC_TRIM_DEFAULT = "65536"


@contextlib.contextmanager
def _without_dask_malloc_trim():
    """Spawn workers without dask's MALLOC_TRIM_THRESHOLD_. A nanny copies its pre-spawn variables into
    this process's environment, so a cluster started earlier here leaves dask's value behind, which
    new workers would inherit; that leftover (only dask's own default value) is removed meanwhile."""
    leftover = os.environ.get("MALLOC_TRIM_THRESHOLD_")
    if leftover == _DASK_MALLOC_TRIM_DEFAULT:
        del os.environ["MALLOC_TRIM_THRESHOLD_"]
    try:
        yield
    finally:
        if leftover == _DASK_MALLOC_TRIM_DEFAULT and "MALLOC_TRIM_THRESHOLD_" not in os.environ:
            os.environ["MALLOC_TRIM_THRESHOLD_"] = leftover


def warm_worker() -> int:
    """Import the whole path in a worker (run once per worker before timing or scheduling)."""
    import importlib
    for name in ("pipeline.simulate", "pipeline.clean", "pipeline.measurement", "pipeline.estimation",
                 "pipeline.validation.study"):
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    return os.getpid()


def run_batch(replicate_fn: Callable, cell: design_mod.Cell, replicates: list[int], seed: int,
              options: dict) -> pd.DataFrame:
    """Run replicates of one cell (a Dask task). A failing replicate becomes a ``failed`` row, not a crash.

    Rows of a replicate that ran keep the status the replicate gives them (``ok``, or ``not_estimable``
    for a pair without an estimate, see ``study.tidy_estimates``); ``ok`` when it gives none."""
    frames = []
    with _replicate_gc():
        for replicate in replicates:
            seed_seq = design_mod.replicate_seed(seed, cell, replicate)
            try:
                frame = replicate_fn(cell, seed_seq, **options)
                if "status" not in frame.columns:  # row-level statuses (ok / not_estimable) are kept
                    frame = frame.assign(status="ok", error=pd.NA)
            except Exception as exc:  # recorded per replicate; the study reports the failure rate
                frame = pd.DataFrame([{"status": "failed", "error": f"{type(exc).__name__}: {exc}"[:500]}])
            frame = frame.assign(replicate=int(replicate), cell_key=cell.key, **cell.factors())
            frames.append(frame)
    return _tidy(pd.concat(frames, ignore_index=True))


#: Young-generation threshold of the cyclic garbage collector while replicates run (Python's default: 700).
REPLICATE_GC_THRESHOLD = 5000
_long_lived_frozen = False


@contextlib.contextmanager
def _replicate_gc():
    """Garbage collection tuned for replicates while they run; the process's settings are restored after.

    A replicate allocates a great many short-lived pandas/numpy objects. With the default threshold
    they set off about 40 young collections per replicate, and each older-generation one re-scanned
    every long-lived object of the process (modules, reference tables, caches; a Dask worker holds
    many of its own): 22 ms of collection in a 0.45 s replicate serially, 2 ms with these settings.
    So the collector runs less often (``REPLICATE_GC_THRESHOLD``), and after the first batch of a
    process everything alive then is frozen (``gc.freeze``: left out of later collections; still
    freed by reference counting). Garbage collection never changes a number.
    """
    global _long_lived_frozen
    threshold = gc.get_threshold()
    gc.set_threshold(max(threshold[0], REPLICATE_GC_THRESHOLD), *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        if not _long_lived_frozen:
            gc.collect()
            gc.freeze()
            _long_lived_frozen = True


def _tidy(frame: pd.DataFrame) -> pd.DataFrame:
    for column in RESULT_COLUMNS:
        if column not in frame.columns:
            frame[column] = pd.NA
    frame = frame[RESULT_COLUMNS].copy()
    for column in NUMERIC_RESULT_COLUMNS:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    for column in ["informative_nonresponse", "unmeasured_confounder"]:
        frame[column] = frame[column].astype(bool)
    frame["replicate"] = frame["replicate"].astype("int64")
    frame["n_areas"] = pd.to_numeric(frame["n_areas"], errors="coerce").astype("Int64")
    for column in STRING_RESULT_COLUMNS:
        frame[column] = frame[column].astype("string")
    return frame


def sort_results(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["cell_key", "replicate", "model", "inference", "estimand", "outcome_period", "feature",
                              "outcome"],
                             na_position="last").reset_index(drop=True)


def batches(n_replicates: int, batch_size: int) -> list[list[int]]:
    batch_size = max(1, int(batch_size))
    return [list(range(start, min(start + batch_size, n_replicates))) for start in range(0, n_replicates, batch_size)]


def run_study(cells: pd.DataFrame, replicate_fn: Callable, *, seed: int, options: dict, cache_dir: Path,
              settings_hash: str, client=None, batch_size: int = 10, progress: bool | str = True,
              prune: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run (or read from cache) every cell of ``cells``; return (replicate results, run log).

    ``cells`` is ``design.design_cells(...)``. With ``client=None`` the replicates run serially in
    this process (same numbers). The run log has one row per cell: ``cell_key, n_replicates, file,
    cached (bool), n_failed`` (replicates that raised), ``n_with_not_estimable`` (replicates that ran
    but reported at least one pair without an estimate). With ``prune`` the cache folder keeps only the current cells' files,
    so its content depends only on params and code, never on earlier runs.
    """
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    todo, frames, log = [], {}, []
    for row in cells.to_dict("records"):
        cell = design_mod.cell_from_row(row)
        path = cache_dir / design_mod.cell_file_name(cell.key, row["n_replicates"], settings_hash)
        if path.is_file():
            frames[cell.key] = pd.read_parquet(path)
            log.append({"cell_key": cell.key, "n_replicates": int(row["n_replicates"]), "file": path.name,
                        "cached": True})
        else:
            todo.append((cell, int(row["n_replicates"]), path))
            log.append({"cell_key": cell.key, "n_replicates": int(row["n_replicates"]), "file": path.name,
                        "cached": False})
    tasks = [(cell, batch) for cell, n, _ in todo for batch in batches(n, batch_size)]
    pieces: dict[str, list[pd.DataFrame]] = {cell.key: [] for cell, _, _ in todo}
    remaining = {cell.key: len(batches(n, batch_size)) for cell, n, _ in todo}
    target = {cell.key: path for cell, _, path in todo}

    def collect(cell, frame):
        # a cell is written as soon as its last batch arrives, so an interrupted run keeps finished cells
        pieces[cell.key].append(frame)
        remaining[cell.key] -= 1
        if remaining[cell.key] == 0:
            frames[cell.key] = sort_results(pd.concat(pieces.pop(cell.key), ignore_index=True))
            io.write_parquet(frames[cell.key], target[cell.key])

    bar = _progress_bar(len(tasks), sum(n for _, n, _ in todo), progress)
    if client is None:
        for cell, batch in tasks:
            collect(cell, run_batch(replicate_fn, cell, batch, seed, options))
            bar.update(len(batch))
    else:
        from dask.distributed import as_completed
        futures = {}
        for cell, batch in tasks:
            future = client.submit(run_batch, replicate_fn, cell, batch, seed, options, pure=False,
                                   key=f"validate-{settings_hash}-{cell.key}-{batch[0]}")
            futures[future] = (cell, batch)
        for future in as_completed(list(futures)):
            cell, batch = futures[future]
            collect(cell, future.result())
            bar.update(len(batch))
            future.release()
    bar.close()
    if getattr(bar, "close_stream", None) is not None:
        bar.close_stream.close()
    if prune:
        keep = {entry["file"] for entry in log}
        for stale in cache_dir.glob("cell_*.parquet"):
            if stale.name not in keep:
                stale.unlink()
    results = sort_results(pd.concat([frames[k] for k in sorted(frames)], ignore_index=True))
    run_log = pd.DataFrame(log)
    failed = results[results["status"] == "failed"].groupby("cell_key")["replicate"].nunique()
    run_log["n_failed"] = run_log["cell_key"].map(failed).fillna(0).astype("int64")
    partial = results[results["status"] == "not_estimable"].groupby("cell_key")["replicate"].nunique()
    run_log["n_with_not_estimable"] = run_log["cell_key"].map(partial).fillna(0).astype("int64")
    return results, run_log.sort_values("cell_key").reset_index(drop=True)


class _NoBar:
    def update(self, n=1):
        pass

    def close(self):
        pass


def _progress_bar(n_tasks: int, n_replicates: int, progress: bool | str):
    """tqdm bar. ``progress``: True/'notebook' (this process's stderr, e.g. the notebook cell),
    'terminal' (the process's original stderr: the terminal running ``dvc repro``, not the report),
    False/'off' (none)."""
    if progress in (False, None, "off", "none") or n_tasks == 0:
        return _NoBar()
    from tqdm import tqdm
    if progress == "terminal":
        # the controlling terminal (the one running `dvc repro`), never the notebook's captured stderr
        try:
            stream = open("/dev/tty", "w")  # noqa: SIM115 - closed with the bar
        except OSError:
            return _NoBar()
        bar = tqdm(total=n_replicates, unit="replicate", desc="validation", file=stream, mininterval=2.0,
                   dynamic_ncols=True)
        bar.close_stream = stream
        return bar
    return tqdm(total=n_replicates, unit="replicate", desc="validation", file=sys.stderr, mininterval=2.0,
                dynamic_ncols=True)


def results_fingerprint(results: pd.DataFrame) -> str:
    """A hash of the numbers (for checking that 1 and 2 workers give identical results)."""
    import hashlib
    data = sort_results(results)
    digest = hashlib.sha256()
    digest.update(pd.util.hash_pandas_object(data, index=False).to_numpy().tobytes())
    return digest.hexdigest()[:16]


def default_batch_size(n_replicates_total: int, n_workers: int, target_tasks_per_worker: int = 8,
                       maximum: int = 25) -> int:
    """Batches big enough to amortise task overhead, small enough to balance the load."""
    per = int(np.ceil(n_replicates_total / max(1, n_workers * target_tasks_per_worker)))
    return int(min(maximum, max(1, per)))


def run_validation(cells: pd.DataFrame, replicate_fn: Callable, *, seed: int, options: dict, cache_dir: Path,
                   scheduler: str | None = None, n_workers: int | None = 2, batch_size: int | None = None,
                   progress: bool | str = "terminal", connection: dict | None = None
                   ) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """The study end to end: cache key from code + settings, client, run, close.

    Returns (replicate results, run log, info) where info has ``code_version``, ``settings_hash``,
    ``scheduler`` ('local' or the address), ``n_workers`` and ``batch_size``. A run with every cell
    cached starts no cluster.
    """
    code_hash = design_mod.code_version()
    settings = {"seed": int(seed), "replicate_fn": f"{replicate_fn.__module__}.{replicate_fn.__qualname__}",
                **{k: (list(v) if isinstance(v, tuple) else v) for k, v in sorted(options.items())}}
    key = design_mod.settings_hash(code_hash, settings)
    cache_dir = Path(cache_dir)
    expected = [cache_dir / design_mod.cell_file_name(r["cell_key"], r["n_replicates"], key)
                for r in cells.to_dict("records")]
    total = int(cells["n_replicates"].sum())
    address = scheduler_address(scheduler)
    info = {"code_version": code_hash, "settings_hash": key, "scheduler": address or "local",
            "n_workers": None, "batch_size": None}
    if all(p.is_file() for p in expected):
        results, log = run_study(cells, replicate_fn, seed=seed, options=options, cache_dir=cache_dir,
                                 settings_hash=key, client=None, progress=False)
        return results, log, info
    if address and connection is None:  # the validate params group holds the TLS files and the TCP switch
        from .. import config
        connection = {k: v for k, v in config.section("validate").items() if k in CONNECTION_KEYS}
    with dask_client(address, n_workers, connection=connection) as client:
        workers = len(client.scheduler_info()["workers"])
        size = int(batch_size) if batch_size else default_batch_size(total, workers)
        info.update(n_workers=workers, batch_size=size)
        load, start = os.getloadavg()[0], time.perf_counter()
        results, log = run_study(cells, replicate_fn, seed=seed, options=options, cache_dir=cache_dir,
                                 settings_hash=key, client=client, batch_size=size, progress=progress)
        seconds = time.perf_counter() - start
    computed = int(log.loc[~log["cached"], "n_replicates"].sum())
    write_study_time(cache_dir, {"settings_hash": key, "replicates_computed": computed, "seconds": round(seconds, 1),
                                 "n_workers": workers, "scheduler": address or "local", "cpu_count": os.cpu_count(),
                                 "load_average_at_start": round(load, 2)})
    return results, log, info


STUDY_TIME_FILE = "study_time.json"


def write_study_time(cache_dir: Path, record: dict) -> None:
    """How long the last computing run took (wall seconds of the replicates, cached cells excluded), so a
    report re-rendered from the cache can still say what the study cost."""
    (Path(cache_dir) / STUDY_TIME_FILE).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")


def read_study_time(cache_dir: Path, settings_hash: str) -> dict | None:
    """The recorded run time for these settings, or None (never computed here, or other settings)."""
    path = Path(cache_dir) / STUDY_TIME_FILE
    if not path.is_file():
        return None
    record = json.loads(path.read_text(encoding="utf-8"))
    return record if record.get("settings_hash") == settings_hash else None
