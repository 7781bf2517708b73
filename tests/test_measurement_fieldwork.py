"""Fieldwork reliability, themes, attendance, and survey response: against independent computations."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import InputError
from pipeline.measurement import (board_attendance, cohens_kappa, fieldwork_themes, intercoder_reliability,
                                  response_matrix, response_rates)


def _segments(seed=0, n_double=60, agree=0.8):
    """Double-coded sample with coders 'ann', 'bob' (and 'cy' on a third of segments) plus single-coded rows."""
    rng = np.random.default_rng(seed)
    codes = {"c1": ("theme_a", 1), "c2": ("theme_a", -1), "c3": ("theme_b", 0), "c4": ("theme_b", 1)}
    names = list(codes)
    rows = []
    for s in range(n_double + 30):
        truth = names[rng.integers(0, 4)]
        coders = ["ann", "bob"] + (["cy"] if s % 3 == 0 else []) if s < n_double else ["ann"]
        for coder in coders:
            code = truth if rng.random() < agree else names[rng.integers(0, 4)]
            rows.append({"segment_id": f"s{s:03d}", "lcjp_id": ["kent", "dorset"][s % 2], "source_type": "interview",
                         "source_id": f"i{s}", "agency": "police", "coder": coder, "code": code,
                         "theme": codes[code][0], "valence": codes[code][1]})
    return pd.DataFrame(rows).astype({c: "string" for c in ["segment_id", "lcjp_id", "coder", "code", "theme"]})


def test_kappa_matches_statsmodels():
    from statsmodels.stats.inter_rater import cohens_kappa as sm_kappa

    rng = np.random.default_rng(1)
    a = rng.choice(list("xyz"), size=80)
    b = np.where(rng.random(80) < 0.7, a, rng.choice(list("xyz"), size=80))
    table = pd.crosstab(pd.Series(a, name="a"), pd.Series(b, name="b")).reindex(index=list("xyz"),
                                                                              columns=list("xyz"), fill_value=0)
    assert cohens_kappa(a, b) == pytest.approx(sm_kappa(table.to_numpy())["kappa"], abs=1e-12)
    assert cohens_kappa(a, a) == pytest.approx(1.0)


def test_intercoder_table_against_statsmodels_and_krippendorff():
    import krippendorff
    from statsmodels.stats.inter_rater import cohens_kappa as sm_kappa

    segments = _segments()
    table = intercoder_reliability(segments, n_bootstrap=200, seed=7)
    row = table[(table["measure"] == "cohens_kappa") & (table["unit"] == "code")
                & (table["coders"] == "ann;bob")].iloc[0]
    wide = segments.pivot_table(index="segment_id", columns="coder", values="code", aggfunc="first").dropna(
        subset=["ann", "bob"])
    cats = sorted(set(wide["ann"]) | set(wide["bob"]))
    ct = pd.crosstab(wide["ann"], wide["bob"]).reindex(index=cats, columns=cats, fill_value=0).to_numpy()
    assert row["n_segments"] == 60
    assert row["estimate"] == pytest.approx(sm_kappa(ct)["kappa"], abs=1e-12)
    assert row["ci_low"] < row["estimate"] < row["ci_high"]
    # Krippendorff's alpha, all three coders, on the code, by the package on an independently built matrix
    doubles = segments[segments.groupby("segment_id")["coder"].transform("nunique") >= 2]
    mat = doubles.pivot(index="coder", columns="segment_id", values="code")
    numeric = mat.apply(lambda col: col.map({c: i for i, c in enumerate(cats)})).to_numpy(dtype=float)
    expected = krippendorff.alpha(reliability_data=numeric, level_of_measurement="nominal")
    kr = table[(table["measure"] == "krippendorff_alpha") & (table["unit"] == "code")].iloc[0]
    assert kr["estimate"] == pytest.approx(expected, abs=1e-12)
    assert kr["n_coders"] == 3 and kr["interpretation"] in {"reliable", "tentative", "unreliable"}
    # theme-level agreement is at least code-level agreement (codes nest in themes)
    pa = table[table["measure"] == "percent_agreement"].set_index(["unit", "coders"])["estimate"]
    assert pa[("theme", "ann;bob")] >= pa[("code", "ann;bob")]


def test_intercoder_bootstrap_is_seeded():
    segments = _segments()
    one = intercoder_reliability(segments, n_bootstrap=100, seed=3)
    two = intercoder_reliability(segments.sample(frac=1, random_state=2), n_bootstrap=100, seed=3)
    pd.testing.assert_frame_equal(one, two)
    three = intercoder_reliability(segments, n_bootstrap=100, seed=4)
    assert not np.allclose(one["ci_low"], three["ci_low"])


def test_perfect_agreement_and_noise():
    perfect = intercoder_reliability(_segments(agree=1.0), n_bootstrap=50, seed=1)
    assert np.allclose(perfect["estimate"], 1.0)
    noise = intercoder_reliability(_segments(agree=0.0, n_double=200), n_bootstrap=50, seed=1)
    kappa = noise[(noise["measure"] == "cohens_kappa") & (noise["unit"] == "code")]["estimate"]
    assert (kappa.abs() < 0.15).all()


def test_themes_count_each_segment_once():
    segments = _segments()
    themes = fieldwork_themes(segments)
    assert themes["n_segments"].sum() == segments["segment_id"].nunique()
    first = segments.sort_values(["segment_id", "coder"]).drop_duplicates("segment_id")
    kent_a = first[(first["lcjp_id"] == "kent") & (first["theme"] == "theme_a")]
    row = themes[(themes["lcjp_id"] == "kent") & (themes["theme"] == "theme_a")].iloc[0]
    v = kent_a["valence"].astype(int)
    assert row["net_valence"] == pytest.approx(((v > 0).sum() - (v < 0).sum()) / len(v))
    assert themes.groupby("lcjp_id")["share_of_area_segments"].sum().round(12).eq(1).all()


def test_board_attendance_rates():
    meetings = pd.DataFrame({
        "lcjp_id": ["kent"] * 6 + ["dorset"] * 2, "pfa_code": "x",
        "meeting_date": pd.to_datetime(["2015-01-01", "2015-04-01", "2015-07-01"] * 2 + ["2015-01-01"] * 2),
        "agency": ["police"] * 3 + ["cps"] * 3 + ["police", "courts"],
        "attended": [True, True, False, True, False, False, True, True],
        "senior": [True, False, False, True, False, False, False, True]})
    table = board_attendance(meetings).set_index(["level", "lcjp_id", "agency"])
    police = table.loc[("agency", "kent", "police")]
    assert police["attendance_rate"] == pytest.approx(2 / 3) and police["senior_rate"] == pytest.approx(1 / 3)
    assert police["senior_share_of_attended"] == pytest.approx(0.5)
    area = table.xs(("area", "kent"), level=["level", "lcjp_id"]).iloc[0]
    assert area["n_meetings"] == 6 and area["n_attended"] == 3


def _survey():
    return pd.DataFrame({"response_id": [f"r{i}" for i in range(7)],
                         "lcjp_id": ["kent"] * 4 + ["dorset"] * 3,
                         "agency": ["police", "police", "cps", "voluntary", "police", "courts", "pcc"]})


def test_response_rates_from_invited():
    invited = pd.DataFrame({"lcjp_id": ["kent", "kent", "kent", "dorset", "dorset", "dorset"],
                            "agency": ["police", "cps", "voluntary", "police", "courts", "pcc"],
                            "invited": [4, 2, 2, 2, 2, 1]})
    rates = response_rates(_survey(), invited, areas=["kent", "dorset", "essex"],
                           core_agencies=["police", "cps", "courts"]).set_index("lcjp_id")
    assert rates.loc["kent", "response_rate"] == pytest.approx(4 / 8)
    assert rates.loc["dorset", "response_rate"] == pytest.approx(3 / 5)
    assert rates.loc["kent", "core_agencies_covered"] == 2 and rates.loc["kent", "core_agencies_missing"] == "courts"
    assert rates.loc["essex", "n_respondents"] == 0 and rates.loc["essex", "core_agencies_covered"] == 0
    assert (rates["rate_basis"] == "invited").all()
    matrix = response_matrix(_survey(), invited, areas=["kent", "dorset", "essex"], core_agencies=["police"])
    assert len(matrix) == 3 * matrix["agency"].nunique()
    assert matrix["n_respondents"].sum() == 7
    cell = matrix[(matrix["lcjp_id"] == "kent") & (matrix["agency"] == "police")].iloc[0]
    assert cell["response_rate"] == pytest.approx(0.5) and cell["is_core"]


def test_response_rates_without_invited_use_core_coverage():
    empty = pd.DataFrame({"lcjp_id": pd.Series(dtype="string"), "agency": pd.Series(dtype="string"),
                          "invited": pd.Series(dtype="int64")})
    rates = response_rates(_survey(), empty, core_agencies=["police", "cps", "courts", "pcc"]).set_index("lcjp_id")
    assert (rates["rate_basis"] == "core_coverage").all() and rates["n_invited"].isna().all()
    assert rates.loc["dorset", "response_rate"] == pytest.approx(3 / 4)
    assert rates.loc["kent", "response_rate"] == pytest.approx(2 / 4)


def test_bad_invited_count_is_input_error():
    invited = pd.DataFrame({"lcjp_id": ["kent"], "agency": ["police"], "invited": ["many"]})
    with pytest.raises(InputError, match="row 2.*invited"):
        response_rates(_survey(), invited)


def test_fleiss_kappa_matches_statsmodels():
    from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

    from pipeline.measurement.fieldwork import fleiss_kappa_counts

    segments = _segments(seed=4)
    table = intercoder_reliability(segments, n_bootstrap=50, seed=1)
    row = table[(table["measure"] == "fleiss_kappa") & (table["unit"] == "code")].iloc[0]
    doubles = segments[segments.groupby("segment_id")["coder"].transform("nunique") == 2]
    cats = sorted(segments["code"].unique())
    ratings = np.array([[cats.index(c) for c in block.sort_values("coder")["code"]]
                        for _, block in doubles.groupby("segment_id")])
    counts, _ = aggregate_raters(ratings, n_cat=len(cats))
    assert row["n_coders"] == 2 and row["n_segments"] == len(ratings)
    assert row["estimate"] == pytest.approx(fleiss_kappa(counts, method="fleiss"), abs=1e-12)
    assert fleiss_kappa_counts(counts) == pytest.approx(fleiss_kappa(counts, method="fleiss"), abs=1e-12)


def test_empty_fieldwork_gives_empty_tables():
    segments = _segments().iloc[0:0]
    assert intercoder_reliability(segments, n_bootstrap=10).empty
    assert fieldwork_themes(segments).empty
    meetings = pd.DataFrame({"lcjp_id": pd.Series(dtype="string"), "meeting_date": pd.Series(dtype="datetime64[us]"),
                             "agency": pd.Series(dtype="string"), "attended": pd.Series(dtype=bool),
                             "senior": pd.Series(dtype=bool)})
    assert board_attendance(meetings).empty
