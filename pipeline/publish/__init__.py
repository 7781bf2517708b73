"""Publishing: disclosure control, peers, figures, the tile cartogram and the index page.

Everything a reader sees goes through :mod:`pipeline.publish.disclosure` first: cells built from
fewer than ``k_min`` respondents are suppressed, survey comments are never read, and only
approved fieldwork quotes are shown, after redaction.
"""
