"""Speaker counts and rep/customer roles on rendered recordings with two to four voices.

render.py builds the recordings under data/speakers/; `python -m evals.speakers DIR` prints the
figures as JSON (see measure.py)."""
