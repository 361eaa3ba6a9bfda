"""Development tools that are not part of the installed package: a fake Twilio for tests,
benchmarks and ``revisit dev fake-twilio`` (run from a source checkout)."""
