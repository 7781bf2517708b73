"""Unit tests of pipeline.publish: disclosure control, peers, cartogram, findings tables, index."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline import paths
from pipeline.areas import load_forces
from pipeline.errors import InputError
from pipeline.publish import cartogram, disclosure, findings, index, peers, profile


# --- disclosure -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, kind", [
    ("mail jo.bloggs@example.org now", "email"),
    ("ring 07700 900461 today", "phone"),
    ("ring +44 (0)1632 960777", "phone"),
    ("ring 01632-960-777", "phone"),
    ("office at SW1A 2AA", "postcode"),
    ("office at ZZ99 3VZ.", "postcode"),
    ("post to m1 1ae please", "postcode"),
])
def test_redact_text_removes_contact_details(text, kind):
    out = disclosure.redact_text(text)
    assert disclosure.find_pii(out, is_html=False).empty, out
    assert not disclosure.find_pii(text, is_html=False).empty
    assert kind in set(disclosure.find_pii(text, is_html=False)["kind"])


def test_redact_keeps_ordinary_text_and_numbers():
    text = "In 2019 Q4 the rate was 12.5% across 42 areas (E23000001); 1,234 cases."
    assert disclosure.redact_text(text) == text
    assert disclosure.find_pii(text, is_html=False).empty


def test_find_pii_ignores_embedded_images_and_styles():
    page = ('<style>.a{color:#SW1A2AA}</style><img src="data:image/png;base64,AB12CDSW1A2AA07700900461==">'
            '<p>nothing here</p>')
    assert disclosure.find_pii(page).empty
    assert list(disclosure.find_pii("<p>a@b.org</p>")["kind"]) == ["email"]


def test_suppress_small_cells_blanks_values_and_count():
    df = pd.DataFrame({"lcjp_id": ["a", "b", "c"], "score": [3.1, 4.4242, 2.0], "n_respondents": [5, 2, 3],
                       "alpha": [0.8, 0.8, 0.8]})
    out = disclosure.suppress_small_cells(df, 3, keep_columns=["alpha"])
    assert out["suppressed"].tolist() == [False, True, False]
    assert pd.isna(out.loc[1, "score"]) and pd.isna(out.loc[1, "n_respondents"])
    assert out.loc[1, "alpha"] == 0.8  # feature-level statistic kept
    assert out.loc[2, "score"] == 2.0  # exactly k is published
    shown = disclosure.display_table(out, 3)
    assert shown.loc[1, "score"] == "suppressed (n < 3)"
    assert "4.42" not in shown.to_string()
    assert shown.loc[0, "n_respondents"] == "5"


def test_suppress_without_count_column_marks_nothing_and_rejects_bad_k():
    df = pd.DataFrame({"x": [1.0]})
    assert disclosure.suppress_small_cells(df, 3)["suppressed"].tolist() == [False]
    with pytest.raises(ValueError):
        disclosure.suppress_small_cells(df, 0)


def test_drop_free_text_removes_comments_and_long_text():
    df = pd.DataFrame({"lcjp_id": ["a"], "comments": ["call me"], "note_long": ["x" * 200], "theme": ["t"]})
    assert list(disclosure.drop_free_text(df).columns) == ["lcjp_id", "theme"]


def test_publishable_quotes_redacts_and_filters():
    quotes = pd.DataFrame({"segment_id": ["s1", "s2", "s3"], "lcjp_id": ["kent", "kent", "gwent"],
                           "code": ["c", "c", "c"], "theme": ["t", "t", "t"],
                           "quote": ["Call 07700 900461", "fine words", "mail a@b.org"]})
    out = disclosure.publishable_quotes(quotes, approved_segment_ids=["s1", "s3"])
    assert set(out["segment_id"]) == {"s1", "s3"}
    assert all(disclosure.find_pii(q, is_html=False).empty for q in out["quote"])
    assert list(out.columns) == ["segment_id", "lcjp_id", "code", "theme", "quote"]


# --- peers ------------------------------------------------------------------------------------------------

def _covariates(areas, seed=1):
    rng = np.random.default_rng(seed)
    rows = []
    for area in areas:
        for year in (2014, 2018):
            rows += [{"lcjp_id": area, "year": year, "variable": "population", "value": float(rng.lognormal(14, 0.6))},
                     {"lcjp_id": area, "year": year, "variable": "deprivation", "value": float(rng.normal(20, 5))}]
    return pd.DataFrame(rows)


def test_choose_peers_nearest_by_standardised_distance():
    areas = [f"a{i}" for i in range(10)]
    cov = _covariates(areas)
    cov.loc[(cov["lcjp_id"] == "a1"), "value"] = cov.loc[(cov["lcjp_id"] == "a0"), "value"].to_numpy() * 1.001
    out = peers.choose_peers(cov, "a0", n_peers=3)
    assert list(out.columns) == peers.PEER_COLUMNS
    assert out["peer_id"].iloc[0] == "a1" and len(out) == 3 and "a0" not in set(out["peer_id"])
    assert out["distance"].is_monotonic_increasing
    assert (out["chosen_by"] == "covariate distance").all()
    again = peers.choose_peers(cov.sample(frac=1, random_state=3), "a0", n_peers=3)
    pd.testing.assert_frame_equal(out, again)


def test_choose_peers_from_params_wins():
    cov = _covariates([f"a{i}" for i in range(6)])
    out = peers.choose_peers(cov, "a0", peers=["a5", "a4"])
    assert out["peer_id"].tolist() == ["a5", "a4"] and (out["chosen_by"] == "params").all()
    assert out["distance"].notna().all()


def test_covariate_matrix_drops_incomplete_variables():
    cov = _covariates(["a", "b", "c"])
    cov = pd.concat([cov, pd.DataFrame([{"lcjp_id": "a", "year": 2018, "variable": "only_a", "value": 1.0}])])
    matrix = peers.covariate_matrix(cov)
    assert "only_a" not in matrix.columns and abs(matrix.mean().abs().max()) < 1e-9


# --- cartogram --------------------------------------------------------------------------------------------

def test_tile_grid_covers_every_partnership_once():
    ids = sorted(load_forces()["lcjp_id"].unique())
    grid = cartogram.load_tile_grid(paths.TILE_GRID_CSV, known_ids=ids)
    assert len(grid) == 42 and set(grid["lcjp_id"]) == set(ids)
    assert not grid.duplicated(["row", "col"]).any()
    # recognisable layout: north above south, Wales west of England's midlands, Kent east of Cornwall
    pos = grid.set_index("lcjp_id")
    assert pos.loc["northumbria", "row"] < pos.loc["london", "row"] < pos.loc["devon-and-cornwall", "row"] + 1
    assert pos.loc["dyfed-powys", "col"] < pos.loc["west-midlands", "col"]
    assert pos.loc["kent", "col"] > pos.loc["devon-and-cornwall", "col"]


def test_tile_grid_errors_name_file_row_and_fix(tmp_path):
    bad = tmp_path / "grid.csv"
    bad.write_text("lcjp_id,row,col\nkent,0,0\nsurrey,0,0\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        cartogram.load_tile_grid(bad)
    assert "row 3" in str(err.value) and "same tile" in str(err.value) and "How to fix" in str(err.value)
    bad.write_text("lcjp_id,row,col\nkent,x,0\n", encoding="utf-8")
    with pytest.raises(InputError, match="column 'row'"):
        cartogram.load_tile_grid(bad)
    bad.write_text("lcjp_id,row,col\nkent,0,0\n", encoding="utf-8")
    with pytest.raises(InputError, match="have no tile"):
        cartogram.load_tile_grid(bad, known_ids=["kent", "surrey"])


def test_cartogram_svg_links_every_tile_and_greys_missing():
    grid = pd.DataFrame({"lcjp_id": ["a", "b", "c"], "row": [0, 0, 1], "col": [0, 1, 0]})
    tiles = cartogram.tile_values(grid, pd.DataFrame({"lcjp_id": ["a", "b"], "value": [1.0, 2.0]}),
                                  {"a": "Alpha", "b": "Beta", "c": "Gamma"})
    svg = cartogram.cartogram_svg(tiles, title="t", link=lambda i: f"areas/{i}.html")
    assert svg.count('<a href="areas/') == 3
    assert cartogram.MISSING_FILL in svg and "Gamma: no published value" in svg
    assert "http" not in svg


def test_abbreviations_are_unique_for_all_areas():
    names = sorted(set(load_forces()["lcjp_name"]))
    labels = cartogram.abbreviations(names)
    assert len(set(labels.values())) == len(names)


# --- profile and findings tables -------------------------------------------------------------------------

def _features():
    rows = []
    for i, area in enumerate(["a", "b", "c", "d"]):
        for feature in ("f1", "f2"):
            rows.append({"lcjp_id": area, "feature": feature, "score": 1.0 + i, "ci_low": 0.5 + i,
                         "ci_high": 1.5 + i, "n_respondents": 2 if (area == "b" and feature == "f1") else 6,
                         "n_agencies": 3, "rwg_j": 0.5 if area == "a" else 0.9, "decision": "kept", "alpha": 0.8})
    return pd.DataFrame(rows)


def test_area_feature_table_ranks_and_suppresses():
    published = profile.published_features(_features(), 3)
    table = profile.area_feature_table(published, "b")
    assert list(table.columns) == profile.FEATURE_TABLE_COLUMNS
    f1 = table.set_index("feature").loc["f1"]
    assert bool(f1["suppressed"]) and pd.isna(f1["score"]) and pd.isna(f1["rank"])
    f2 = table.set_index("feature").loc["f2"]
    assert f2["rank"] == 3 and f2["n_ranked"] == 4  # scores 1,2,3,4: b has 2 -> third highest
    notes = profile.quality_notes(profile.area_feature_table(published, "a"), pd.DataFrame(), 3)
    assert "agreement" in set(notes["topic"])
    assert "disclosure" in set(profile.quality_notes(table, pd.DataFrame(), 3)["topic"])


def _estimates():
    rows = []
    for model in ("m_b", "m_a"):
        for feature in ("f1", "f2"):
            for outcome in ("o1", "o2"):
                rows.append({"feature": feature, "outcome": outcome, "model": model, "estimate": 0.5,
                             "ci_low": -0.1, "ci_high": 1.1, "p_value": 0.01 if feature == "f1" else 0.5,
                             "p_adjusted": 0.04 if feature == "f1" and outcome == "o1" else 0.6, "n_areas": 42,
                             "mde": 1.0, "mde_r": 0.42, "verdict": "x", "robustness_value": 0.2, "e_value": 1.5})
    return pd.DataFrame(rows)


def test_headline_model_choice_and_counts():
    est = _estimates()
    assert findings.choose_headline_model(est, "auto") == "m_a"
    assert findings.choose_headline_model(est, "m_b") == "m_b"
    with pytest.raises(ValueError, match="headline_model"):
        findings.choose_headline_model(est, "nope")
    head = findings.headline_table(est, "m_a")
    assert list(head.columns) == findings.HEADLINE_COLUMNS and len(head) == 4
    assert findings.significance_counts(head, 0.05) == {"n_tests": 4, "n_raw_below_alpha": 2,
                                                        "n_adjusted_below_alpha": 1}
    assert findings.mde_table(est, "m_a")["mde_r"].tolist() == [0.42, 0.42]
    assert len(findings.robustness_table(head, est, "m_a", top=3)) == 3


def test_specification_summary_and_plot_data(tmp_path):
    spec = pd.DataFrame({"feature": ["f"] * 4, "outcome": ["o"] * 4, "estimate": [0.3, -0.1, 0.2, 0.5],
                         "ci_low": 0.0, "ci_high": 1.0, "p_value": [0.01, 0.5, 0.2, 0.03]})
    s = findings.specification_summary(spec, 0.05).iloc[0]
    assert s["n_specifications"] == 4 and s["share_positive"] == 0.75 and s["share_p_below_alpha"] == 0.5
    head = findings.headline_table(_estimates(), "m_a")
    written = findings.write_plot_data(head, spec, tmp_path)
    curve = pd.read_csv(written[1])
    assert curve["spec_rank"].tolist() == [1, 2, 3, 4] and curve["estimate"].is_monotonic_increasing
    first = [p.read_bytes() for p in written]
    findings.write_plot_data(head, spec.sample(frac=1, random_state=1), tmp_path)
    assert [p.read_bytes() for p in written] == first  # deterministic


def test_triangulation_table_weights_valence_by_segments():
    themes = pd.DataFrame({"lcjp_id": ["a", "a"], "theme": ["t1", "t2"], "n_segments": [3, 1],
                           "net_valence": [1.0, -1.0]})
    out = findings.triangulation_table(themes, profile.published_features(_features(), 3), {"a": "Alpha"})
    assert out.loc[0, "net_valence"] == pytest.approx(0.5) and out.loc[0, "area"] == "Alpha"


# --- index ------------------------------------------------------------------------------------------------

def test_index_sentences_count_each_pair_once_on_the_primary_estimand(tmp_path):
    """estimates.csv holds every pair on two scales (latent, measured): the index counts pairs, not rows."""
    rows = []
    for feature, outcome, verdicts in [("governance", "ineffective_trial_rate", ("inconclusive", "associated")),
                                       ("performance_management", "ineffective_trial_rate", ("associated", "associated")),
                                       ("engagement", "days_offence_to_completion", ("inconclusive", "inconclusive"))]:
        for estimand, verdict in zip(("latent", "measured"), verdicts):
            rows.append({"model": "ols", "family": "confirmatory", "estimand": estimand, "feature": feature,
                         "outcome": outcome, "verdict": verdict, "p_adjusted": 0.01 if verdict == "associated" else 0.4})
    rows.append({"model": "ols_region_fe", "family": "sensitivity:ols_region_fe", "estimand": "measured",
                 "feature": "governance", "outcome": "ineffective_trial_rate", "verdict": "associated", "p_adjusted": 0.01})
    pd.DataFrame(rows).to_csv(tmp_path / "estimates.csv", index=False)
    found = index.stage_findings(tmp_path, tmp_path)
    assert found["findings"] == ("1 of 3 registered associations holds after adjustment: "
                                 "Performance management → ineffective trial rate.")
    assert "of 3 primary associations per SD of the latent partnership trait, 1 has" in found["estimate"]


def test_index_quotes_the_simulation_study_from_its_committed_results(tmp_path):
    targets = pd.DataFrame({"target": ["coverage", "coverage", "coverage", "TOST at 0"],
                            "scope": ["planted pair"] * 3 + ["family"], "estimand": "latent",
                            "status": ["met", "met", "missed", "reported"], "value": [0.95, 0.94, 0.90, 0.2],
                            "mcse": 0.01, "reason": ["", "", "coverage 90% vs 95%", ""]})
    targets.to_csv(tmp_path / "summary.csv", index=False)
    found = index.stage_findings(tmp_path, tmp_path, study_summary=tmp_path / "summary.csv")
    assert found["validation"] == "Simulation study of the whole pipeline: 2 of 3 judged checks met, 1 missed."
    assert "validation" not in index.stage_findings(tmp_path, tmp_path, study_summary=tmp_path / "absent.csv")


def test_index_lists_the_study_from_its_results_not_from_its_page(tmp_path):
    """reports/validation.html is written by make validate, outside dvc repro: the index never reads it, so a clone
    with and one without the page build the same index."""
    (tmp_path / "validation.html").write_text("<title>Old title</title><p class=\"instep-summary\">old</p>")
    assert index.discover_reports(tmp_path).empty
    row = index.study_row("Simulation study of the whole pipeline: 2 of 3 judged checks met, 1 missed.")
    assert row["href"] == "validation.html" and row["title"] == index.STUDY_TITLE and "make validate" in row["summary"]
    assert index.study_row(None) is None


def test_index_page_links_reports_and_tiles(tmp_path):
    (tmp_path / "areas").mkdir()
    (tmp_path / "findings.html").write_text('<html><head><title>F</title></head><body>'
                                            '<p class="instep-summary"><strong>Summary:</strong> 3 tests.</p></body></html>')
    (tmp_path / "clean_survey.html").write_text("<title>C</title><div class=\"instep-banner\"><p>SYNTHETIC x</p></div>"
                                                "<p>This long paragraph describes the cleaning of the survey files.</p>")
    (tmp_path / "areas" / "kent.html").write_text("<title>K</title><p class=\"instep-summary\">Kent: fine</p>")
    reports = index.discover_reports(tmp_path, {"kent": "Kent"})
    assert reports["href"].tolist() == ["findings.html", "clean_survey.html", "areas/kent.html"]
    assert reports["summary"].tolist()[0] == "3 tests."
    assert reports["summary"].tolist()[1].startswith("This long paragraph")
    grid = pd.DataFrame({"lcjp_id": ["kent", "surrey"], "row": [0, 0], "col": [1, 0]})
    values = index.cartogram_values(pd.DataFrame({"lcjp_id": ["kent", "surrey"], "feature": "g", "score": [3.0, 4.4242],
                                                  "n_respondents": [5, 1]}), "g", 3)
    assert values.set_index("lcjp_id")["value"].isna().tolist() == [False, True]
    page = index.build_index_html(reports, cartogram.tile_values(grid, values, {"kent": "Kent"}), feature="g",
                                  k_min=3, banner='<div class="instep-banner">B</div>', footer="<footer>F</footer>",
                                  existing_profiles={"kent"})
    assert "<title>" in page and 'href="areas/kent.html"' in page and "4.42" not in page
    assert page.index("<h1>") < page.index("<h2>") and "instep-banner" in page
    with pytest.raises(InputError, match="cartogram_feature"):
        index.cartogram_values(pd.DataFrame({"lcjp_id": ["a"], "feature": ["g"], "score": [1.0],
                                             "n_respondents": [5]}), "nope", 3)


# --- notebooks --------------------------------------------------------------------------------------------

def _parameter_defaults(notebook_name: str) -> dict:
    import ast
    import json
    nb = json.loads((paths.NOTEBOOKS / notebook_name).read_text(encoding="utf-8"))
    cells = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, f"{notebook_name} needs exactly one cell tagged 'parameters'"
    assert all(not c.get("outputs") for c in nb["cells"] if c["cell_type"] == "code"), "commit notebooks without outputs"
    values = {}
    for node in ast.parse("".join(cells[0]["source"])).body:
        values[node.targets[0].id] = ast.literal_eval(node.value)
    return values


@pytest.mark.parametrize("notebook_name, sections, area", [
    ("04_findings.ipynb", ["publish", "estimate"], None),
    ("05_area_profile.ipynb", ["publish", "profile"], "kent"),
])
def test_notebook_parameter_defaults_equal_params_yaml(notebook_name, sections, area):
    from pipeline.config import load_params
    from pipeline.notebook import notebook_parameters
    expected = notebook_parameters(sections, area, load_params())
    assert _parameter_defaults(notebook_name) == expected


def test_contact_names_redacted_but_ordinary_words_kept():
    out = disclosure.redact_text("Contact Fred Example on 07700 900123.")
    assert out.startswith("Contact [name removed] on [") and "07700" not in out
    assert "Fred" not in disclosure.redact_text("contact Fred Example on x")
    assert disclosure.redact_text("we call them back; contact the Board Office") == \
        "we call them back; contact the Board Office"


def test_validation_table_condenses_long_summary():
    rows = []
    for cell in ("c1", "c2"):
        for measure, value in (("coverage", 0.95), ("type1_error_per_test", 0.05), ("relative_bias", 0.1)):
            rows.append({"cell_key": cell, "role": "core", "inference": "fl", "estimand": "a", "measure": measure,
                         "value": value + (0.01 if cell == "c2" else 0), "mcse": 0.005, "n_sim": 100})
    out = findings.validation_table(pd.DataFrame(rows))
    assert set(out["measure"]) == {"coverage", "type1_error_per_test"}
    cov = out.set_index("measure").loc["coverage"]
    assert cov["n_scenarios"] == 2 and cov["min"] == pytest.approx(0.95) and cov["max"] == pytest.approx(0.96)
