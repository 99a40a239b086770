"""The lab: tooling that evaluates, calibrates and measures the service.

It imports the service (``facecompare.*``); the service never imports the lab."""
