"""Keel's core: settings, errors, the workspace and the project file, files read
and written at the boundary, secrets kept out of logs, provenance."""
