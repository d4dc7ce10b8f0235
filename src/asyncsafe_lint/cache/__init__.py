"""The cache directory and what the linter keeps in it: where it is (`directory`), the
per-file results of earlier runs (`results`), as plain data (`plain`), signed by this
machine (`signing`).  The recorded runs that `replay` prints are kept there too.

Empty on purpose: a replay imports `directory` and `signing` and must load nothing
else (see `replay`).
"""
