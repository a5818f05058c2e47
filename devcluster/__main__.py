"""``python -m devcluster --host 127.0.0.1 --port 8001 [--ready-delay 2] [--traffic manual]``."""

from __future__ import annotations

import argparse
import logging
import signal
import sys

from devcluster.server import DevCluster


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devcluster", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--ready-delay", type=float, default=2.0, help="seconds before a new pod turns Ready")
    parser.add_argument("--traffic", choices=("auto", "manual"), default="auto", help="manual: only /_sim/advance simulates")
    parser.add_argument("--stats-retention", type=int, default=3600, help="seconds of per-workload history kept")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    cluster = DevCluster(
        args.host,
        args.port,
        ready_delay_seconds=args.ready_delay,
        traffic=args.traffic,
        stats_retention_seconds=args.stats_retention,
    )
    # SIGTERM (honcho, docker stop) ends the server as cleanly as Ctrl-C.
    signal.signal(signal.SIGTERM, lambda *_: cluster.request_stop())
    print(f"dev cluster listening on {cluster.start().url}", flush=True)
    try:
        cluster.wait()
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
