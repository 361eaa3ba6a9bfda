"""Campaigns: the campaign files (:mod:`.config`), statuses and reasons (:mod:`.statuses`),
the send window (:mod:`.window`), the contact rules (:mod:`.rules`) and the plan of a run
(:mod:`.plan`)."""
