"""Put on PYTHONPATH by tests/test_e2e.py with INSTEP_AUDIT_OPENS=DIR: every Python process (stage commands and
their Jupyter kernels) appends each file it opens to DIR/<pid>.txt as ``mode<TAB>path``."""
import os
import sys

_DIR = os.environ.get("INSTEP_AUDIT_OPENS")
if _DIR:
    _log = open(os.path.join(_DIR, f"{os.getpid()}.txt"), "a", encoding="utf-8", buffering=1)

    def _hook(event, args):
        if event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
            mode = args[1] if len(args) > 1 and isinstance(args[1], str) else f"flags={args[2] if len(args) > 2 else ''}"
            try:
                _log.write(f"{mode}\t{os.path.abspath(os.fsdecode(args[0]))}\n")
            except Exception:  # noqa: BLE001 (auditing must never break the run)
                pass

    sys.addaudithook(_hook)
