"""Validation of the whole method by simulation (ADEMP), run on Dask.

- ``design``: the study's cells, per-replicate seeds, cache keys and the code-version hash.
- ``study``: one replicate (``whole_path_replicate``: generate -> clean -> features -> estimate),
  the MDE translation and a known-answer control (``textbook_replicate``).
- ``dask_runner``: the Dask client (LocalCluster or an existing scheduler) and the cached, batched run.
- ``performance``: bias, empirical/model SE, coverage, type-I error, power, FWER, FDR with Monte Carlo SEs,
  per planted pair (``performance_by_pair``) and per declared family within an estimand (``performance_by_family``).
- ``summary``: the judged targets of issue 14 (``judged_targets`` -> ``summary.csv``), ``target_overview``,
  ``study_for_build`` (the summary only if this build's code produced it) and the report's tables.
"""
