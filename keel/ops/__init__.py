"""Operations: the production stack's processes (`keel infra`), the server as a
child process, supervision, and the checks run before a server starts."""
