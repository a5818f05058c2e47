"""Exit codes a pipeline can branch on (documented in docs/cli.md; never renumber them)."""

from __future__ import annotations

OK = 0            # success; for deploy/status --wait: the deployment is live
USAGE = 1         # bad arguments, configuration missing, network or server (5xx) error
ROLLED_BACK = 2   # the rollout was rolled back (gate breach, abort, rollback)
REJECTED = 3      # the production request was rejected, or its approval expired
FAILED = 4        # the rollout failed (unrecoverable error)
TIMEOUT = 5       # --wait gave up after --timeout seconds; the deployment keeps going
REFUSED = 6       # the API refused the request (4xx problem detail other than 401)
UNAUTHENTICATED = 7  # no token, or the token is unknown, expired or revoked
INTERRUPTED = 130  # Ctrl-C while waiting (the deployment keeps going)

# A deployment's status → the exit code of a command that waited for (or reports) it.
BY_STATUS = {
    "live": OK,
    "superseded": OK,  # it went live, then a newer deployment replaced it
    "rolled_back": ROLLED_BACK,
    "rejected": REJECTED,
    "expired": REJECTED,
    "failed": FAILED,
}
TERMINAL = frozenset(BY_STATUS)
