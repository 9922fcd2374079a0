"""`make bench`: load the site and a plain baseline side by side, and report (see run.py)."""
