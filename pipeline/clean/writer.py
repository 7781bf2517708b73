"""Writing a clean result to data/processed (the only part of pipeline.clean that writes)."""
from __future__ import annotations

from pathlib import Path

from .. import io, paths
from .schemas import validate_outputs

KINDS = ("survey", "fieldwork", "outcomes", "covariates")


def output_paths(result, kind: str, out_dir: Path | None = None) -> list[Path]:
    out_dir = Path(out_dir or paths.PROCESSED)
    names = list(result.outputs()) + list(_csv_outputs(result)) + [f"set_aside_{kind}.csv"]
    return ([out_dir / n for n in names] + [out_dir / "quarantine" / f"{kind}.csv",
            out_dir / f"reconciliation_{kind}.csv", out_dir / f"inputs_{kind}.json"])


def write_result(result, kind: str, out_dir: Path | None = None) -> list[Path]:
    """Write the processed tables, quarantine, reconciliation and inputs manifest of one kind.

    Deterministic: sorted rows, pipeline.io writers (no index, no wall-clock metadata).
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    out_dir = Path(out_dir or paths.PROCESSED)
    validate_outputs(result)  # pandera, before anything is written
    for name, frame in result.outputs().items():
        io.write_parquet(frame, out_dir / name)
    for name, frame in _csv_outputs(result, kind).items():
        io.write_csv(frame, out_dir / name)
    io.write_csv(result.quarantine, out_dir / "quarantine" / f"{kind}.csv")
    io.write_csv(result.reconciliation, out_dir / f"reconciliation_{kind}.csv")
    io.write_json(result.manifest, out_dir / f"inputs_{kind}.json")
    return output_paths(result, kind, out_dir)


def _csv_outputs(result, kind: str | None = None) -> dict:
    """Extra CSV tables of a result: what was set aside by reason; for fieldwork, the withheld quotes."""
    from .quarantine import set_aside_for
    extra = getattr(result, "csv_outputs", None)
    out = dict(extra()) if callable(extra) else {}
    if kind is not None:
        out[f"set_aside_{kind}.csv"] = set_aside_for(result)
    return out
