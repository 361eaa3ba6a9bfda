"""The database: every table and its handle (:mod:`.tables`), the engine and schema
migrations (:mod:`.engine`, ``migrations/``)."""
