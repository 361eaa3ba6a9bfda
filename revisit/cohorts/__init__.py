"""Cohorts: who is due for a contact as of a date. The definitions (one query per cohort,
:mod:`.definitions`) and running them (:mod:`.select`)."""
