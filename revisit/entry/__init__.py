"""The entry layer shared by the CLI, the flows and the web app: open the database once,
then run, preview or plan campaigns with an engine and settings built at the entry point."""
