"""The embedded Restate server's config file: unix sockets in the state dir only (no TCP listener:
only the user's account reaches it), telemetry off, data in the state dir, requests to the worker
signed with the state dir's key (see signing.py).

Paths are relative to the state dir (the server runs there), so that a deep state dir does not
exceed the kernel's limit on socket paths: Restate binds and reaches its own sockets by these.
"""

from __future__ import annotations

from ..config.settings import restate_partitions
from . import signing
from .layout import Layout

# Memory at rest (bench/restate_settings.py, docs/optimisation-log.md "restate-server's memory").
# Restate reads RESTATE_* environment variables over this file (RESTATE_DISABLE_PROMETHEUS=false
# brings the node's /metrics back for a look at Restate's internals).
MEMORY_TOP = """# Nothing of DALS reads /metrics: with the statistics below, -5 MiB at rest, -10 to -15 under load.
disable-prometheus = true
"""
MEMORY_SECTIONS = """
[log-server]
# Bifrost's log store: its memtables' prefix bloom filter, zeroed at start, is sized from this
# (21.8 MiB at the 217.6 MiB derived from the total above, 3.2 here): -19 MiB at rest and under load.
rocksdb-memory-budget = "32 MiB"
# RocksDB statistics only feed /metrics (off above): per-core histograms, 0.6 MiB per database.
rocksdb-disable-statistics = true

[worker.storage]
rocksdb-disable-statistics = true

[metadata-server]
rocksdb-disable-statistics = true
"""


def render(layout: Layout) -> str:
    # DALS_RESTATE_PARTITIONS, 1 by default: on one machine every task's steps then go to one log
    # and one partition processor, so Restate commits more of them together. Restate reads the
    # count only when it creates the data dir: an existing one keeps its partitions.
    partitions = restate_partitions()
    return f"""# Written by dals on every start; edit DALS settings, not this file.
cluster-name = "dals"
node-name = "{layout.RESTATE_NODE}"
base-dir = "{layout.restate_data.relative_to(layout.root)}"
listen-mode = "unix"
advertised-address = "unix:{layout.sockets.relative_to(layout.root)}/fabric.sock"
disable-telemetry = true
default-num-partitions = {partitions}
rocksdb-total-memory-size = "512 MiB"
log-format = "compact"
log-disable-ansi-codes = true
{MEMORY_TOP}
[admin.query-engine]
memory-size = "128 MiB"

[worker.invoker]
request-identity-private-key-pem-file = "{signing.ensure_key(layout.root)}"
{MEMORY_SECTIONS}"""


def write(layout: Layout) -> None:
    layout.restate_config.write_text(render(layout))
